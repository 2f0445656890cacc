/**
 * Our `OAuthProvider` mounted in Express 5, guarding an MCP SDK server at /mcp.
 *
 *   npx tsx examples/server-express.ts        # then: new Client("http://127.0.0.1:3000/mcp", { auth: "oauth" })
 */
import { pathToFileURL } from "node:url";
import express from "express";
import { InMemoryOAuthProvider, nodeMiddleware, nodeRequireBearer, type InMemoryOAuthProviderOptions } from "../src/server/index.js";
import { listenThenMount, type Listening } from "./listen-then-mount.js";
import { handleMcpRequest } from "./mcp-tools.js";

export function createExpressApp(provider: InMemoryOAuthProvider): express.Express {
  const app = express();
  // Metadata, /authorize, /token, /register, /revoke and the consent page. Mount it before any body
  // parser (it reads the bodies itself; it copes with a parsed body too).
  app.use(nodeMiddleware(provider));
  // The guard sets req.auth, which the SDK transport hands to tools as `authInfo`.
  app.post("/mcp", nodeRequireBearer(provider), express.json(), (req, res) => handleMcpRequest(req, res, req.body));
  return app;
}

/** Listens on 127.0.0.1:`port` (0: any free port); the provider's URLs follow the port. */
export function startExpressExample(port = 0, options: Omit<InMemoryOAuthProviderOptions, "baseUrl"> = {}): Promise<Listening> {
  return listenThenMount(port, (origin) =>
    createExpressApp(new InMemoryOAuthProvider({ clientRegistration: { enabled: true }, revocation: { enabled: true }, ...options, baseUrl: origin })),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { mcpUrl } = await startExpressExample(Number(process.env.PORT ?? 3000));
  console.log(`MCP server with its own OAuth on ${mcpUrl} (Express)`);
}
