import { describe, expect, it } from "vitest";
import { MemoryProviderStore, PostgresProviderStore, RedisProviderStore, type ProviderStore } from "../../src/server/index.js";
import { runId, useBackends } from "./store-backends.js";

/**
 * The `ProviderStore` contract, on each implementation against the real server: TTLs expire (short
 * TTLs, bounded waits), and `add`, `take` and `increment` stay atomic under 20 concurrent callers.
 */
const { backends, pool, redis, tables, prefixes } = useBackends();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it is true, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await sleep(25);
  }
}

for (const backend of backends) {
  describe(`ProviderStore contract: ${backend.name}`, () => {
    it("get, set, delete; set replaces the value", async () => {
      const store = await backend.make();
      expect(await store.get("k")).toBeUndefined();
      await store.set("k", "one", 60_000);
      expect(await store.get("k")).toBe("one");
      await store.set("k", "two", 60_000);
      expect(await store.get("k")).toBe("two");
      await store.delete("k");
      expect(await store.get("k")).toBeUndefined();
      await store.delete("k");
    });

    it("a record expires with its TTL, for get, add, take and increment alike", async () => {
      const store = await backend.make();
      await store.set("a", "v", 150);
      expect(await store.add("b", "v", 150)).toBe(true);
      await store.set("c", "v", 150);
      expect(await store.increment("n", 150)).toBe(1);
      await store.set("long", "v", 60_000);
      expect(await store.get("a")).toBe("v");
      await eventually(async () => (await store.get("a")) === undefined);
      await sleep(50);
      expect(await store.get("b")).toBeUndefined();
      // An expired key counts as absent: add stores again, take returns nothing, the counter restarts.
      expect(await store.add("b", "again", 60_000)).toBe(true);
      expect(await store.get("b")).toBe("again");
      expect(await store.take("c")).toBeUndefined();
      expect(await store.increment("n", 60_000)).toBe(1);
      expect(await store.get("long")).toBe("v");
    });

    it("set replaces the TTL too", async () => {
      const store = await backend.make();
      await store.set("k", "v", 150);
      await store.set("k", "v", 60_000);
      await sleep(400);
      expect(await store.get("k")).toBe("v");
    });

    it("a counter's TTL starts at its creation and is not extended by increments", async () => {
      const store = await backend.make();
      expect(await store.increment("n", 600)).toBe(1);
      // The TTL started before this moment, so the counter is gone by created + 600 ms.
      const created = Date.now();
      await sleep(350);
      expect(await store.increment("n", 600)).toBe(2);
      // Had the second increment restarted the TTL, the counter would live until created + 950 ms at least.
      await sleep(created + 750 - Date.now());
      expect(await store.get("n")).toBeUndefined();
      expect(await store.increment("n", 600)).toBe(1);
    });

    it("add: of 20 concurrent callers exactly one stores, and its value stays", async () => {
      const store = await backend.make();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.add("claim", `caller-${i}`, 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.get("claim")).toBe(`caller-${results.indexOf(true)}`);
      expect(await store.add("claim", "late", 60_000)).toBe(false);
    });

    it("take: of 20 concurrent callers exactly one gets the value, and the key is gone", async () => {
      const store = await backend.make();
      await store.set("once", "value", 60_000);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.take("once")));
      expect(results.filter((r) => r !== undefined)).toEqual(["value"]);
      expect(await store.get("once")).toBeUndefined();
      expect(await store.take("missing")).toBeUndefined();
    });

    it("increment: 20 concurrent callers get 1 to 20, each once", async () => {
      const store = await backend.make();
      const results = await Promise.all(Array.from({ length: 20 }, () => store.increment("count", 60_000)));
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await store.get("count")).toBe("20");
    });
  });
}

describe("atomicity across connections", () => {
  it("Redis: add, take and increment from 20 callers over 4 separate connections", async () => {
    const prefix = `mcp-oauth-test-${runId()}:`;
    prefixes.push(prefix);
    const clients = await Promise.all(Array.from({ length: 4 }, () => redis().duplicate().connect()));
    try {
      const stores = clients.map((client) => new RedisProviderStore(client, { prefix }));
      const on = (i: number) => stores[i % stores.length]!;
      const added = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i).add("claim", String(i), 60_000)));
      expect(added.filter(Boolean)).toHaveLength(1);
      await on(0).set("once", "v", 60_000);
      const taken = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i).take("once")));
      expect(taken.filter((r) => r !== undefined)).toHaveLength(1);
      const counts = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i).increment("n", 60_000)));
      expect(new Set(counts).size).toBe(20);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  });

  it("PostgreSQL: add over an expired row, from 20 callers on 10 pooled connections, stores once", async () => {
    const table = `mcp_oauth_test_${runId()}`;
    tables.push(table);
    const store = new PostgresProviderStore(pool(), { table });
    await store.ensureSchema();
    await store.set("claim", "old", 1);
    await sleep(20);
    const added = await Promise.all(Array.from({ length: 20 }, (_, i) => store.add("claim", String(i), 60_000)));
    expect(added.filter(Boolean)).toHaveLength(1);
    expect(await store.get("claim")).toBe(String(added.indexOf(true)));
    // The old row's expiry was replaced by the new one's.
    const { rows } = await pool().query(`SELECT expires_at > now() + interval '50 seconds' AS fresh FROM ${table} WHERE key = 'claim'`);
    expect(rows).toEqual([{ fresh: true }]);
  });
});

describe("PostgresProviderStore: schema, identifiers and the sweep", () => {
  async function table(): Promise<{ name: string; count: (where?: string) => Promise<number> }> {
    const name = `mcp_oauth_test_${runId()}`;
    tables.push(name);
    return {
      name,
      count: async (where = "true") => Number((await pool().query(`SELECT count(*) AS n FROM ${name} WHERE ${where}`)).rows[0]?.n),
    };
  }

  it("refuses a table name that is not a plain lower-case identifier, since it is written into the SQL", () => {
    for (const bad of ["x; DROP TABLE users", "Mixed", "1abc", "a.b.c", 'a"b', "", "a".repeat(64)]) {
      expect(() => new PostgresProviderStore(pool(), { table: bad }), bad).toThrow(RangeError);
    }
    expect(() => new PostgresProviderStore(pool(), { table: "public.mcp_oauth_store" })).not.toThrow();
  });

  it("ensureSchema creates the documented table and index, and is idempotent (also when two run at once)", async () => {
    const t = await table();
    const a = new PostgresProviderStore(pool(), { table: t.name });
    const b = new PostgresProviderStore(pool(), { table: t.name });
    await Promise.all([a.ensureSchema(), b.ensureSchema()]);
    await a.ensureSchema();
    const { rows } = await pool().query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", [t.name]);
    expect(rows).toEqual([
      { column_name: "key", data_type: "text" },
      { column_name: "value", data_type: "text" },
      { column_name: "expires_at", data_type: "timestamp with time zone" },
    ]);
    const index = await pool().query("SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname = $2", [t.name, `${t.name}_expires_at_idx`]);
    expect(index.rows).toHaveLength(1);
  });

  it("reads never return an expired row, though it stays in the table until swept", async () => {
    const t = await table();
    const store = new PostgresProviderStore(pool(), { table: t.name, sweepIntervalMs: 3_600_000 });
    await store.ensureSchema();
    await store.sweep();
    await store.set("k", "v", 1);
    await sleep(20);
    expect(await store.get("k")).toBeUndefined();
    expect(await t.count()).toBe(1);
  });

  it("sweep deletes expired rows in bounded batches and leaves live ones", async () => {
    const t = await table();
    let statements = 0;
    const counting = {
      query: (text: string, values: unknown[]) => {
        if (text.includes("SKIP LOCKED")) statements++;
        return pool().query(text, values);
      },
    };
    const store = new PostgresProviderStore(counting, { table: t.name, sweepBatchSize: 10, sweepMaxBatches: 2, sweepIntervalMs: 3_600_000 });
    await store.ensureSchema();
    await store.sweep();
    for (let i = 0; i < 25; i++) await store.set(`old-${i}`, "v", 1);
    for (let i = 0; i < 3; i++) await store.set(`live-${i}`, "v", 60_000);
    await sleep(20);
    statements = 0;
    expect(await store.sweep()).toBe(20);
    expect(statements).toBe(2);
    expect(await t.count()).toBe(8);
    // A batch that is not full is the last one.
    expect(await store.sweep()).toBe(5);
    expect(statements).toBe(3);
    expect(await t.count()).toBe(3);
    expect(await store.sweep()).toBe(0);
  });

  it("writes start a background sweep at most once per sweepIntervalMs", async () => {
    const t = await table();
    const clock = { now: 1_000_000 };
    const errors: unknown[] = [];
    const store = new PostgresProviderStore(pool(), { table: t.name, sweepIntervalMs: 60_000, now: () => clock.now, onSweepError: (e) => errors.push(e) });
    await store.ensureSchema();
    await store.sweep();
    for (let i = 0; i < 5; i++) await store.set(`old-${i}`, "v", 1);
    await sleep(20);
    // Within the interval, writes leave the expired rows alone.
    clock.now += 59_000;
    await store.set("live", "v", 60_000);
    expect(await store.add("claim", "v", 60_000)).toBe(true);
    await store.increment("n", 60_000);
    await sleep(200);
    expect(await t.count("expires_at <= now()")).toBe(5);
    // Once the interval has passed, the next write sweeps them (in the background).
    clock.now += 1_000;
    await store.set("live-2", "v", 60_000);
    await eventually(async () => (await t.count("expires_at <= now()")) === 0);
    expect(await t.count()).toBe(4);
    expect(errors).toEqual([]);
  });

  it("a failing background sweep goes to onSweepError and does not fail the write", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const flaky = {
      query: async (text: string, values: unknown[]) => {
        calls++;
        if (text.startsWith("DELETE FROM") && text.includes("SKIP LOCKED")) throw new Error("sweep failed");
        return pool().query(text, values);
      },
    };
    const t = await table();
    const store = new PostgresProviderStore(flaky, { table: t.name, onSweepError: (e) => errors.push(e) });
    await store.ensureSchema();
    await store.set("k", "v", 60_000);
    await eventually(async () => errors.length === 1);
    expect(errors).toEqual([new Error("sweep failed")]);
    expect(await store.get("k")).toBe("v");
    expect(calls).toBeGreaterThan(0);
  });
});

describe("MemoryProviderStore", () => {
  it("expires by its injected clock, and each write sweeps a bounded batch of the table", async () => {
    const clock = { now: 0 };
    const store: ProviderStore & { size: number } = new MemoryProviderStore({ now: () => clock.now, sweepBatch: 3 });
    for (let i = 0; i < 9; i++) await store.set(`old-${i}`, "v", 1000);
    expect(await store.get("old-0")).toBe("v");
    clock.now = 1000;
    expect(await store.get("old-0")).toBeUndefined();
    expect(store.size).toBe(8);
    await store.set("live-0", "v", 60_000);
    // This write looked at 3 records only.
    expect(store.size).toBe(6);
    for (let i = 1; i < 5; i++) await store.set(`live-${i}`, "v", 60_000);
    expect(store.size).toBe(5);
  });

  it("refuses a TTL that is not a number", async () => {
    const store = new MemoryProviderStore();
    await expect(store.set("k", "v", Number.NaN)).rejects.toThrow(RangeError);
    expect(() => new MemoryProviderStore({ sweepBatch: 0 })).toThrow(RangeError);
  });
});
