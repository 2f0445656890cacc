/**
 * One replica of an OAuth server for test/server/replicas.test.ts: a node:http server on 127.0.0.1 with a
 * `StoreOAuthProvider` (consent page on, autoApprove off) on a shared Redis or PostgreSQL store, and a
 * bearer-guarded `/mcp` that answers with the caller. Every replica is configured with the same public
 * `baseUrl` (the load balancer's address, which nothing listens on): the test talks to each replica's
 * own port. Config in REPLICA_CONFIG; prints `{"port":n}` once listening; stops on SIGTERM.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@keyv/redis";
import pg from "pg";
import { PostgresProviderStore, RedisProviderStore, StoreOAuthProvider, nodeRequireBearer, toNodeListener, type ProviderStore } from "../../src/server/index.js";

export interface ReplicaConfig {
  baseUrl: string;
  store: { kind: "redis"; url: string; prefix: string } | { kind: "postgres"; url: string; table: string };
  refreshTokenGraceSeconds: number;
}

const config = JSON.parse(process.env.REPLICA_CONFIG ?? "{}") as ReplicaConfig;
let store: ProviderStore;
let close: () => Promise<unknown>;
if (config.store.kind === "redis") {
  const redis = createClient({ url: config.store.url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  await redis.connect();
  store = new RedisProviderStore(redis, { prefix: config.store.prefix });
  close = () => redis.quit();
} else {
  const pool = new pg.Pool({ connectionString: config.store.url, max: 10, connectionTimeoutMillis: 2000 });
  const postgres = new PostgresProviderStore(pool, { table: config.store.table });
  await postgres.ensureSchema();
  store = postgres;
  close = () => pool.end();
}

const provider = new StoreOAuthProvider({
  baseUrl: config.baseUrl,
  store,
  autoApprove: false,
  clientRegistration: { enabled: true },
  revocation: { enabled: true },
  refreshTokenGraceSeconds: config.refreshTokenGraceSeconds,
  // One client address sends everything here; the budgets are tested elsewhere.
  rateLimits: false,
  onError: (error) => process.stderr.write(`provider error: ${String(error)}\n`),
});
const oauth = toNodeListener(provider.handle, { origin: config.baseUrl });
const guard = nodeRequireBearer(provider);
const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", config.baseUrl);
  if (provider.matches(url)) return oauth(req, res);
  if (url.pathname !== "/mcp") return void res.writeHead(404).end();
  guard(req, res, (error?: unknown) => {
    if (error) return void res.writeHead(500).end();
    const auth = (req as typeof req & { auth?: { clientId: string; extra: { subject: string } } }).auth;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ clientId: auth?.clientId, subject: auth?.extra.subject }));
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => void close().finally(() => process.exit(0)));
});
