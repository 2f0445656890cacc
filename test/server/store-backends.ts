import { randomBytes } from "node:crypto";
import { createClient } from "@keyv/redis";
import pg, { type Pool } from "pg";
import { afterAll, beforeAll } from "vitest";
import type { OAuthProviderServerOptions } from "../../examples/oauth-provider-server.js";
import {
  MemoryProviderStore,
  PostgresProviderStore,
  RedisProviderStore,
  StoreOAuthProvider,
  type InMemoryOAuthProviderOptions,
  type ProviderStore,
  type StoreOAuthProviderOptions,
} from "../../src/server/index.js";

/**
 * The real Redis and PostgreSQL the store tests run on. Unreachable means failed, never skipped: the
 * connection is made in `beforeAll`, whose error fails every test of the file.
 */
export const redisUrl = "redis://127.0.0.1:6379";
export const postgresUrl = "postgres://postgres@127.0.0.1:5432/test";

export type Redis = ReturnType<typeof createClient>;

export interface StoreBackend {
  name: string;
  /** A store on a fresh key space (prefix or table), removed after the file's tests. */
  make(): Promise<ProviderStore>;
}

/** A unique suffix per run, for key prefixes and table names. */
export const runId = () => randomBytes(6).toString("hex");

/** Connected clients for the calling file (connected in beforeAll, cleaned up and closed in afterAll). */
export function useBackends(): { redis: () => Redis; pool: () => Pool; backends: StoreBackend[]; tables: string[]; prefixes: string[] } {
  let redis: Redis | undefined;
  let pool: Pool | undefined;
  const tables: string[] = [];
  const prefixes: string[] = [];
  beforeAll(async () => {
    redis = createClient({ url: redisUrl, socket: { connectTimeout: 2000, reconnectStrategy: false } });
    redis.on("error", () => undefined);
    await redis.connect();
    pool = new pg.Pool({ connectionString: postgresUrl, max: 10, connectionTimeoutMillis: 2000 });
    pool.on("error", () => undefined);
    await pool.query("SELECT 1");
  });
  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await redis!.keys(`${prefix}*`);
      if (keys.length > 0) await redis!.del(keys);
    }
    for (const table of tables) await pool!.query(`DROP TABLE IF EXISTS ${table}`);
    await redis?.quit();
    await pool?.end();
  });
  const backends: StoreBackend[] = [
    { name: "MemoryProviderStore", make: async () => new MemoryProviderStore() },
    {
      name: `RedisProviderStore (${redisUrl})`,
      make: async () => {
        const prefix = `mcp-oauth-test-${runId()}:`;
        prefixes.push(prefix);
        return new RedisProviderStore(redis!, { prefix });
      },
    },
    {
      name: `PostgresProviderStore (${postgresUrl})`,
      make: async () => {
        const table = `mcp_oauth_test_${runId()}`;
        tables.push(table);
        const store = new PostgresProviderStore(pool!, { table });
        await store.ensureSchema();
        return store;
      },
    },
  ];
  return { redis: () => redis!, pool: () => pool!, backends, tables, prefixes };
}

/** A store that records every key and value written through it, to check what reached storage. */
export function recording(store: ProviderStore): { store: ProviderStore; written: () => string } {
  const seen: string[] = [];
  return {
    written: () => JSON.stringify(seen),
    store: {
      get: (key) => store.get(key),
      set: (key, value, ttlMs) => (seen.push(key, value), store.set(key, value, ttlMs)),
      add: (key, value, ttlMs) => (seen.push(key, value), store.add(key, value, ttlMs)),
      take: (key) => store.take(key),
      delete: (key) => store.delete(key),
      increment: (key, ttlMs) => (seen.push(key), store.increment(key, ttlMs)),
    },
  };
}

/** `startOAuthProviderServer`'s `createProvider` for a `StoreOAuthProvider`. */
export function storeProvider(store: ProviderStore, extra: Partial<StoreOAuthProviderOptions> = {}): NonNullable<OAuthProviderServerOptions["createProvider"]> {
  return (options: InMemoryOAuthProviderOptions) => new StoreOAuthProvider({ ...options, ...extra, store });
}
