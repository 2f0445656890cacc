import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The parts of src/ and the one way they depend on each other (docs/architecture.md):
 * shared/ ← store/ ← flow/ ← transport/ ← the facade at the top (oauth.ts, options.ts, client.ts, index.ts);
 * server/ uses shared/ only. Each part lists what it must not import; a forbidden edge fails `npm run lint`,
 * and so does an import cycle, type-only imports included (`npm run lint:cycles`, dpdm over src/).
 */
const top = { group: ["../*.js", "../../*.js"], message: "the facade (oauth, options, client, index) is imported by nothing below it" };
const outside = (...parts) => ({ group: parts.flatMap((part) => [`../${part}/*`, `../../${part}/*`]), message: `this part must not import ${parts.join(", ")}/ (see eslint.config.js)` });
const sdk = { group: ["@modelcontextprotocol/*"], message: "only src/client.ts imports the MCP SDK (an optional peer)" };
const boundaries = (...patterns) => ({ "no-restricted-imports": ["error", { patterns: [sdk, ...patterns] }] });

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", ".venv-interop/", ".stryker-tmp/", "reports/", "docs/api/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": ["error", { allow: ["warn", "error"] }],
    },
  },
  {
    files: ["examples/**", "bench/**", "test/**", ".ci/**"],
    rules: { "no-console": "off" },
  },
  // shared/: URL and address rules, the error class, events, bounded reading: imports nothing of ours outside shared/.
  { files: ["src/shared/**/*.ts"], rules: boundaries(top, outside("store", "flow", "transport", "server")) },
  // store/: records, the token store, locks, encryption.
  { files: ["src/store/**/*.ts"], rules: boundaries(top, outside("flow", "transport", "server")) },
  // flow/: the pipeline steps, in the order session.ts runs them.
  { files: ["src/flow/**/*.ts"], rules: boundaries(top, outside("transport", "server")) },
  // transport/: oauth.fetch's request recovery and the undici interceptor.
  { files: ["src/transport/**/*.ts"], rules: boundaries(top, outside("server")) },
  // server/: the authorization server (mcp-oauth/server), standing on shared/ alone.
  { files: ["src/server/**/*.ts"], rules: boundaries(top, outside("store", "flow", "transport")) },
  // The facade: the root entry never reaches the MCP SDK or the server.
  {
    files: ["src/index.ts", "src/oauth.ts", "src/options.ts"],
    rules: boundaries({ group: ["./client.js", "./server/*"], message: "the root entry must not load the MCP SDK (client.ts) or the server (mcp-oauth/server)" }),
  },
);
