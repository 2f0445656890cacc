/**
 * Tokens that survive restarts and are shared by every process pointed at the same Redis, encrypted at
 * rest: any Keyv store works as `tokenStorage`. With a `@keyv/redis` Keyv the processes also share a
 * Redis lock, so a rotating refresh token is spent once and only one of them opens the browser.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 MCP_URL=https://mcp.example.com/mcp \
 *   OAUTH_STORAGE_ENCRYPTION_KEY=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url")+"=")') \
 *   npx tsx examples/redis-token-storage.ts
 */
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { Client } from "../src/client.js";
import { FernetEncryptionWrapper, OAuth } from "../src/index.js";

const mcpUrl = process.env.MCP_URL ?? "http://127.0.0.1:3000/mcp";
const redis = new Keyv({ store: new KeyvRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"), namespace: "mcp-oauth" });
const key = process.env.OAUTH_STORAGE_ENCRYPTION_KEY;

const oauth = new OAuth({
  mcpUrl,
  scopes: ["mcp:tools"],
  clientName: "My MCP client",
  // The same key (the same env var) lets FastMCP's FernetEncryptionWrapper read these values too.
  tokenStorage: key ? new FernetEncryptionWrapper(redis, { keys: key }) : redis,
  callbackPort: 8765,
});

const client = new Client(mcpUrl, { auth: oauth });
await client.connect();
console.log((await client.listTools()).tools.map((tool) => tool.name));
await client.close();
await redis.disconnect();
