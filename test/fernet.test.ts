import { readFileSync } from "node:fs";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { Fernet, FernetEncryptionWrapper, isOAuthError } from "../src/index.js";

interface Vector {
  desc?: string;
  token: string;
  now: string;
  iv?: number[];
  src?: string;
  ttl_sec?: number;
  secret: string;
}
const vectors = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/fernet-spec/${name}.json`, import.meta.url), "utf8")) as Vector[];
const failure = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe("Fernet specification vectors (github.com/fernet/spec)", () => {
  it.each(vectors("generate"))("generate: $src", (v) => {
    expect(new Fernet(v.secret).encrypt(v.src ?? "", { nowMs: Date.parse(v.now), iv: Uint8Array.from(v.iv ?? []) })).toBe(v.token);
  });

  it.each(vectors("verify"))("verify: $src", (v) => {
    expect(new Fernet(v.secret).decrypt(v.token, { ttlSeconds: v.ttl_sec ?? 0, nowMs: Date.parse(v.now) }).toString("utf8")).toBe(v.src);
  });

  it.each(vectors("invalid"))("invalid: $desc", (v) => {
    const error = failure(() => new Fernet(v.secret).decrypt(v.token, { ttlSeconds: v.ttl_sec ?? 0, nowMs: Date.parse(v.now) }));
    expect(isOAuthError(error, "decryption_failed")).toBe(true);
  });
});

describe("Fernet keys", () => {
  it("rotation: encrypts with the first key, decrypts with any", () => {
    const [oldKey, newKey] = [Fernet.generateKey(), Fernet.generateKey()];
    const written = new Fernet(oldKey).encrypt("before rotation");
    const rotated = new Fernet([newKey, oldKey]);
    expect(rotated.decrypt(written).toString()).toBe("before rotation");
    const rewritten = rotated.encrypt("after rotation");
    expect(new Fernet(newKey).decrypt(rewritten).toString()).toBe("after rotation");
    expect(isOAuthError(failure(() => new Fernet(oldKey).decrypt(rewritten)), "decryption_failed")).toBe(true);
  });

  it("a malformed key is an invalid_options error naming its position, not its value", () => {
    const key = Fernet.generateKey();
    const error = failure(() => new Fernet([key, "c2hvcnQ="]));
    expect(isOAuthError(error, "invalid_options")).toBe(true);
    expect(String(error)).toContain("#2");
    expect(String(error)).not.toContain("c2hvcnQ");
  });

  it("accepts keys with or without padding and in the standard alphabet", () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 - i));
    const token = new Fernet(bytes.toString("base64")).encrypt("x");
    expect(new Fernet(bytes.toString("base64url")).decrypt(token).toString()).toBe("x");
  });
});

describe("FernetEncryptionWrapper", () => {
  const value = { access_token: "AT-secret", refresh_token: "RT-secret", expires_at: 1, scope: "a b", note: "é ✓" };

  it("stores py-key-value's envelope, never the plaintext, and reads it back", async () => {
    const inner = new Keyv();
    const store = new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() });
    await store.set("k", value);
    const raw = (await inner.get("k")) as Record<string, unknown>;
    expect(Object.keys(raw).sort()).toEqual(["__encrypted_data__", "__encryption_version__"]);
    expect(raw.__encryption_version__).toBe(1);
    expect(JSON.stringify(raw)).not.toContain("secret");
    // Standard base64 around the url-safe Fernet token: the inner layer starts with the version byte 0x80.
    expect(Buffer.from(raw.__encrypted_data__ as string, "base64").toString("ascii")).toMatch(/^gAAAAA/);
    expect(await store.get("k")).toEqual(value);
    expect(await store.get("missing")).toBeUndefined();
  });

  it("passes the TTL through to the inner store", async () => {
    const calls: unknown[] = [];
    const inner = { get: async () => undefined, set: async (...args: unknown[]) => void calls.push(args), delete: async () => true };
    await new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() }).set("k", value, 1234);
    expect(calls[0]).toEqual(["k", expect.any(Object), 1234]);
  });

  it("a wrong key is a typed error, never garbage", async () => {
    const inner = new Keyv();
    await new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() }).set("k", value);
    const error = await new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() }).get("k").catch((e: unknown) => e);
    expect(isOAuthError(error, "decryption_failed")).toBe(true);
    expect(String(error)).not.toContain("secret");
  });

  it("refuses tampered, malformed, newer-version and (by default) plaintext values", async () => {
    const key = Fernet.generateKey();
    const inner = new Keyv();
    const store = new FernetEncryptionWrapper(inner, { keys: key });
    const sealed = store.seal(value) as { __encrypted_data__: string };
    const inner64 = Buffer.from(sealed.__encrypted_data__, "base64").toString("ascii");
    const flipped = inner64.slice(0, 40) + (inner64[40] === "A" ? "B" : "A") + inner64.slice(41);
    const cases: unknown[] = [
      { __encrypted_data__: Buffer.from(flipped).toString("base64"), __encryption_version__: 1 },
      { __encrypted_data__: "%%%", __encryption_version__: 1 },
      { __encrypted_data__: sealed.__encrypted_data__, __encryption_version__: "1" },
      { __encrypted_data__: sealed.__encrypted_data__, __encryption_version__: 2 },
      { __encrypted_data__: Buffer.from(new Fernet(key).encrypt("not json")).toString("base64"), __encryption_version__: 1 },
      value,
    ];
    for (const stored of cases) {
      await inner.set("k", stored);
      expect(isOAuthError(await store.get("k").catch((e: unknown) => e), "decryption_failed")).toBe(true);
    }
    expect(await new FernetEncryptionWrapper(inner, { keys: key, acceptPlaintext: true }).get("k")).toEqual(value);
  });
});
