/**
 * Tokens that survive restarts and are shared by every process pointed at the same Redis:
 * any Keyv store works as `tokenStorage`.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 MCP_URL=https://mcp.example.com/mcp npx tsx examples/redis-token-storage.ts
 */
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { Client } from "../src/client.js";
import { OAuth } from "../src/index.js";

const mcpUrl = process.env.MCP_URL ?? "http://127.0.0.1:3000/mcp";
const tokenStorage = new Keyv({ store: new KeyvRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"), namespace: "mcp-oauth" });

const oauth = new OAuth({
  mcpUrl,
  scopes: ["mcp:tools"],
  clientName: "My MCP client",
  tokenStorage,
  callbackPort: 8765,
});

const client = new Client(mcpUrl, { auth: oauth });
await client.connect();
console.log((await client.listTools()).tools.map((tool) => tool.name));
await client.close();
await tokenStorage.disconnect();
