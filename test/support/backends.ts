import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import KeyvPostgres from "@keyv/postgres";
import KeyvRedis from "@keyv/redis";
import KeyvSqlite from "@keyv/sqlite";
import Keyv from "keyv";
import { Keyv as Keyv6 } from "keyv6";
import { Fernet, FernetEncryptionWrapper, type TokenStorage } from "../../src/index.js";

export const redisUrl = "redis://127.0.0.1:6379";
export const postgresUrl = "postgresql://postgres@127.0.0.1:5432/test";

/** Whether something listens on 127.0.0.1:port (Redis, PostgreSQL). */
export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export const redisUp = await reachable(6379);
export const postgresUp = await reachable(5432);
if (!redisUp) console.warn("SKIPPED Redis tests: nothing listens on 127.0.0.1:6379");
if (!postgresUp) console.warn("SKIPPED PostgreSQL tests: nothing listens on 127.0.0.1:5432");

/** A namespace no other run (parallel CI, another engineer's tests) uses. */
export const uniqueNamespace = (): string => `mcp-oauth-test-${process.pid}-${randomUUID().slice(0, 8)}`;

export interface Backend {
  name: string;
  /** False for stores that ignore TTLs (the plain object). */
  ttl?: boolean;
  /** Why it cannot run here, if it cannot. */
  unavailable?: string;
  /**
   * A store; calling `open` again with the same `shared` value gives a second connection to the same
   * data, as another process would have.
   */
  open(shared: string): { storage: TokenStorage; close(): Promise<void> };
  /** Frees what `shared` names (temp files). */
  cleanup?(shared: string): void;
}

const memoryMaps = new Map<string, Map<unknown, unknown>>();
/** The key of the encrypted backend, shared by its connections as by the processes of one deployment. */
const testKey = Fernet.generateKey();
const sqliteDirs = new Map<string, string>();
const sqlitePath = (shared: string): string => {
  let dir = sqliteDirs.get(shared);
  if (!dir) sqliteDirs.set(shared, (dir = mkdtempSync(join(tmpdir(), "mcp-oauth-sqlite-"))));
  return join(dir, "tokens.sqlite");
};

/** Every store the contract runs against: in-memory Keyv 5 and 6, a plain object, Redis, SQLite, PostgreSQL. */
export const backends: Backend[] = [
  {
    name: "keyv 5 in memory",
    open: (shared) => {
      const map = memoryMaps.get(shared) ?? new Map();
      memoryMaps.set(shared, map);
      return { storage: new Keyv({ store: map, namespace: shared }), close: async () => undefined };
    },
  },
  {
    name: "keyv 6 in memory",
    open: (shared) => {
      const map = memoryMaps.get(`6:${shared}`) ?? new Map();
      memoryMaps.set(`6:${shared}`, map);
      return { storage: new Keyv6({ store: map, namespace: shared }), close: async () => undefined };
    },
  },
  {
    name: "plain object with async get/set/delete",
    ttl: false,
    open: (shared) => {
      const map = memoryMaps.get(`plain:${shared}`) ?? new Map<string, unknown>();
      memoryMaps.set(`plain:${shared}`, map);
      const storage: TokenStorage = {
        get: async (key) => map.get(key),
        set: async (key, value) => void map.set(key, structuredClone(value)),
        delete: async (key) => map.delete(key),
      };
      return { storage, close: async () => undefined };
    },
  },
  {
    name: "@keyv/redis",
    ...(redisUp ? {} : { unavailable: "Redis is not reachable on 127.0.0.1:6379" }),
    open: (shared) => {
      const storage = new Keyv({ store: new KeyvRedis(redisUrl), namespace: shared });
      return { storage, close: () => storage.disconnect() };
    },
  },
  {
    name: "FernetEncryptionWrapper over @keyv/redis",
    ...(redisUp ? {} : { unavailable: "Redis is not reachable on 127.0.0.1:6379" }),
    open: (shared) => {
      const inner = new Keyv({ store: new KeyvRedis(redisUrl), namespace: shared });
      return { storage: new FernetEncryptionWrapper(inner, { keys: testKey }), close: () => inner.disconnect() };
    },
  },
  {
    name: "@keyv/sqlite (file)",
    open: (shared) => {
      const storage = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${sqlitePath(shared)}`, busyTimeout: 5000 }), namespace: shared });
      return { storage, close: () => storage.disconnect() };
    },
    cleanup: (shared) => {
      const dir = sqliteDirs.get(shared);
      if (dir) rmSync(dir, { recursive: true, force: true });
      sqliteDirs.delete(shared);
    },
  },
  {
    name: "@keyv/postgres",
    ...(postgresUp ? {} : { unavailable: "PostgreSQL is not reachable on 127.0.0.1:5432" }),
    open: (shared) => {
      const storage = new Keyv({ store: new KeyvPostgres({ uri: postgresUrl, table: "mcp_oauth_test" }), namespace: shared });
      // @keyv/postgres keeps one pool per process: the first disconnect ends it, a second one throws.
      return { storage, close: () => storage.disconnect().catch(() => undefined) };
    },
  },
];

