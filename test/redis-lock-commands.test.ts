/**
 * RedisLock on a real Redis, as other processes see it: the lock is the key `<prefix><key>` holding a
 * fresh owner id with a PX lease (a fractional lease rounded up, never to 0), and it works the same
 * through an ioredis-style client (`call(command, ...args)`) and through a function that returns the
 * client for each command.
 */
import { createClient } from "@keyv/redis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisLock, type RedisCommandClient } from "../src/index.js";
import { redisUp, redisUrl, uniqueNamespace } from "./support/backends.js";

const redis = redisUp ? createClient({ url: redisUrl }) : undefined;
if (redis) await redis.connect();
afterAll(async () => redis?.close());

/** node-redis, as the `sendCommand` client. */
const nodeRedis = (): RedisCommandClient => ({ sendCommand: (args: string[]) => (redis as NonNullable<typeof redis>).sendCommand(args) });

/** An ioredis-style client on the same connection, recording the commands it was given. */
function ioredisStyle(): { client: RedisCommandClient; commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    client: {
      call: (command: string, ...args: string[]) => {
        commands.push(command);
        return (redis as NonNullable<typeof redis>).sendCommand([command, ...args]);
      },
    },
  };
}

describe.skipIf(!redisUp)("RedisLock in Redis", () => {
  const r = () => redis as NonNullable<typeof redis>;

  it("holds the key <prefix><key> with a new owner id for each acquisition, for the lease", async () => {
    const prefix = `${uniqueNamespace()}:`;
    const lock = new RedisLock(nodeRedis(), { prefix });
    const first = await lock.acquire("k", 5_000);
    const owner = await r().get(`${prefix}k`);
    expect(owner).toMatch(/^[0-9a-f-]{36}$/);
    expect(await r().exists("k")).toBe(0);
    const ttl = await r().pTTL(`${prefix}k`);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
    await first?.release();
    expect(await r().exists(`${prefix}k`)).toBe(0);
    await lock.acquire("k", 5_000);
    expect(await r().get(`${prefix}k`)).not.toBe(owner);
    await r().del(`${prefix}k`);
  });

  it("without a prefix, the key is the lock key itself", async () => {
    const k = uniqueNamespace();
    const handle = await new RedisLock(nodeRedis()).acquire(k, 5_000);
    expect(await r().exists(k)).toBe(1);
    await handle?.release();
    expect(await r().exists(k)).toBe(0);
  });

  it("a fractional lease is rounded up: 0.4 ms is a lease of 1 ms, not a refused PX 0", async () => {
    const prefix = `${uniqueNamespace()}:`;
    const lock = new RedisLock(nodeRedis(), { prefix });
    const handle = await lock.acquire("k", 0.4);
    expect(handle).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await r().exists(`${prefix}k`)).toBe(0);
    const held = await lock.acquire("k", 5_000);
    expect(await held?.extend(1_000.2)).toBe(true);
    const ttl = await r().pTTL(`${prefix}k`);
    expect(ttl).toBeGreaterThan(900);
    expect(ttl).toBeLessThanOrEqual(1_001);
    await held?.release();
  });

  it("an ioredis-style client takes, extends and releases the lock the same way", async () => {
    const prefix = `${uniqueNamespace()}:`;
    const { client, commands } = ioredisStyle();
    const lock = new RedisLock(client, { prefix });
    const handle = await lock.acquire("k", 5_000);
    expect(handle).toBeDefined();
    expect(await lock.acquire("k", 5_000)).toBeUndefined();
    expect(await handle?.extend(20_000)).toBe(true);
    expect(await r().pTTL(`${prefix}k`)).toBeGreaterThan(15_000);
    await handle?.release();
    expect(await r().exists(`${prefix}k`)).toBe(0);
    expect(commands).toEqual(["SET", "SET", "EVAL", "EVAL"]);
  });

  it("a function returning the client is called for each command", async () => {
    const prefix = `${uniqueNamespace()}:`;
    let calls = 0;
    const lock = new RedisLock(async () => {
      calls += 1;
      return nodeRedis();
    }, { prefix });
    const handle = await lock.acquire("k", 5_000);
    expect(await r().exists(`${prefix}k`)).toBe(1);
    expect(await handle?.extend(5_000)).toBe(true);
    await handle?.release();
    expect(await r().exists(`${prefix}k`)).toBe(0);
    expect(calls).toBe(3);
  });

  it("an old holder's extend and release, through either client, leave the next holder's lock alone", async () => {
    const prefix = `${uniqueNamespace()}:`;
    for (const client of [nodeRedis(), ioredisStyle().client]) {
      const lock = new RedisLock(client, { prefix });
      const old = await lock.acquire("k", 5_000);
      await r().set(`${prefix}k`, "another-process", { PX: 60_000 });
      expect(await old?.extend(5_000)).toBe(false);
      await old?.release();
      expect(await r().get(`${prefix}k`)).toBe("another-process");
      await r().del(`${prefix}k`);
    }
  });
});
