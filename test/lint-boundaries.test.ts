/**
 * The import rules fail `npm run lint` on a forbidden edge (eslint.config.js: each part is fed an import
 * it must refuse, as a virtual file in that part, and one it must let through) or on a cycle (dpdm, fed a
 * fixture pair that import each other's types).
 */
import { spawnSync } from "node:child_process";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ ignore: false });

/** The messages of the import rules for `code` as if it were the file `filePath`. */
async function importProblems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "import-x/no-cycle").map((m) => `${m.ruleId}: ${m.message}`);
}

describe("the parts of src/ depend one way", () => {
  const forbidden: [string, string][] = [
    ["src/shared/probe.ts", 'import "../store/token-store.js";'],
    ["src/shared/probe.ts", 'import "../flow/session.js";'],
    ["src/shared/probe.ts", 'import "../options.js";'],
    ["src/store/probe.ts", 'import "../flow/session.js";'],
    ["src/store/probe.ts", 'import "../transport/request-recovery.js";'],
    ["src/flow/probe.ts", 'import "../transport/request-recovery.js";'],
    ["src/flow/probe.ts", 'import type { OAuthOptions } from "../options.js";'],
    ["src/transport/probe.ts", 'import "../oauth.js";'],
    ["src/server/probe.ts", 'import "../flow/session.js";'],
    ["src/server/probe.ts", 'import "../store/token-store.js";'],
    ["src/server/probe.ts", 'import "../client.js";'],
    ["src/flow/probe.ts", 'import { Client } from "@modelcontextprotocol/sdk/client/index.js";'],
    ["src/oauth.ts", 'import "./client.js";'],
    ["src/index.ts", 'import "./server/index.js";'],
  ];
  it.each(forbidden)("%s may not: %s", async (filePath, code) => {
    expect(await importProblems(filePath, code)).toEqual([expect.stringMatching(/^no-restricted-imports: /)]);
  });

  const allowed: [string, string][] = [
    ["src/shared/probe.ts", 'import "./errors.js";'],
    ["src/store/probe.ts", 'import "../shared/errors.js";'],
    ["src/flow/probe.ts", 'import "../store/token-store.js";'],
    ["src/transport/probe.ts", 'import "../flow/session.js";'],
    ["src/server/probe.ts", 'import "../shared/back-channel.js";'],
    ["src/client.ts", 'import { Client } from "@modelcontextprotocol/sdk/client/index.js";'],
  ];
  it.each(allowed)("%s may: %s", async (filePath, code) => {
    expect(await importProblems(filePath, code)).toEqual([]);
  });
});

describe("no import cycle", () => {
  it("`npm run lint:cycles` fails on a cycle, even of type-only imports, and names it", () => {
    // The lint command itself, over src/ and the fixture pair that import each other's types.
    const run = spawnSync("npm", ["run", "--silent", "lint:cycles", "--", "test/lint-fixtures/cycle/first.ts"], { encoding: "utf8", timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("test/lint-fixtures/cycle/first.ts -> test/lint-fixtures/cycle/second.ts");
    expect(run.stdout).not.toMatch(/src\//);
  });
});
