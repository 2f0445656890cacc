/**
 * FernetEncryptionWrapper against the stores it meets and the values it may find there: stores that
 * answer `null` for a missing key or keep values as JSON strings, a `Fernet` passed in place of keys,
 * deletes that must reach the store, and stored values that are not (well-formed) envelopes, which are
 * refused with `decryption_failed` (never a TypeError, never returned) unless plaintext is accepted. The
 * envelope's base64 is read as strictly as py-key-value reads it (`b64decode(validate=True)`).
 */
import { describe, expect, it } from "vitest";
import { Fernet, FernetEncryptionWrapper, isOAuthError, OAuthError, type TokenStorage } from "../src/index.js";

const value = { access_token: "AT-secret-1", refresh_token: "RT-secret-2", expires_at: 1, scope: "a b" };

/** A store on a Map, whose values are exactly what the wrapper gave it (or what a test planted). */
function mapStore(): TokenStorage & { map: Map<string, unknown>; deleted: string[] } {
  const map = new Map<string, unknown>();
  const deleted: string[] = [];
  return {
    map,
    deleted,
    get: async (key) => map.get(key),
    set: async (key, stored) => void map.set(key, stored),
    delete: async (key) => {
      deleted.push(key);
      return map.delete(key);
    },
  };
}

/** What reading `stored` gives: the value, or the error (which must be an OAuthError). */
async function read(stored: unknown, acceptPlaintext = false): Promise<unknown> {
  const inner = mapStore();
  inner.map.set("k", stored);
  return new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey(), acceptPlaintext }).get("k").catch((error: unknown) => error);
}

const decryptionFailed = (error: unknown): boolean => error instanceof OAuthError && isOAuthError(error, "decryption_failed");

describe("FernetEncryptionWrapper and the stores it wraps", () => {
  it("a store that answers null for a missing key reads as missing", async () => {
    const inner: TokenStorage = { get: async () => null, set: async () => true, delete: async () => true };
    expect(await new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() }).get("k")).toBeUndefined();
  });

  it("reads an envelope that the store keeps as a JSON string", async () => {
    const inner = mapStore();
    const store = new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() });
    await store.set("k", value);
    inner.map.set("k", JSON.stringify(inner.map.get("k")));
    expect(typeof inner.map.get("k")).toBe("string");
    expect(await store.get("k")).toEqual(value);
  });

  it("takes a Fernet in place of keys, and uses it", async () => {
    const key = Fernet.generateKey();
    const inner = mapStore();
    const store = new FernetEncryptionWrapper(inner, { keys: new Fernet([Fernet.generateKey(), key]) });
    inner.map.set("k", new FernetEncryptionWrapper(mapStore(), { keys: key }).seal(value));
    expect(await store.get("k")).toEqual(value);
  });

  it("delete deletes from the wrapped store", async () => {
    const inner = mapStore();
    const store = new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() });
    await store.set("k", value);
    await store.delete("k");
    expect(inner.deleted).toEqual(["k"]);
    expect(inner.map.has("k")).toBe(false);
    expect(await store.get("k")).toBeUndefined();
  });
});

describe("values that are not envelopes", () => {
  it("a string, a number, an array or null is refused with decryption_failed, not a TypeError", async () => {
    for (const stored of ["plain text", 42, [1, 2], ["__encrypted_data__"]]) expect(decryptionFailed(await read(stored))).toBe(true);
    const wrapper = new FernetEncryptionWrapper(mapStore(), { keys: Fernet.generateKey() });
    for (const stored of [null, "plain text", 7]) {
      let error: unknown;
      try {
        wrapper.open(stored);
      } catch (caught) {
        error = caught;
      }
      expect(decryptionFailed(error)).toBe(true);
    }
  });

  it("with acceptPlaintext they are passed through as they are", async () => {
    expect(await read("plain text", true)).toBe("plain text");
    expect(await read(42, true)).toBe(42);
    expect(await read([1], true)).toEqual([1]);
    expect(await read(value, true)).toEqual(value);
  });
});

describe("malformed envelopes", () => {
  const key = Fernet.generateKey();
  const sealed = new FernetEncryptionWrapper(mapStore(), { keys: key }).seal(value) as { __encrypted_data__: string; __encryption_version__: number };
  const open = (stored: unknown): unknown => {
    try {
      return new FernetEncryptionWrapper(mapStore(), { keys: key }).open(stored);
    } catch (error) {
      return error;
    }
  };

  it("each refusal says what was wrong, and nothing of the value", () => {
    const message = (stored: unknown) => (open(stored) as Error).message;
    expect(message({ plain: true })).toBe("the stored value is not encrypted (set acceptPlaintext to read unencrypted values)");
    expect(message({ ...sealed, __encryption_version__: "1" })).toBe("the stored encryption envelope is malformed");
    expect(message({ ...sealed, __encryption_version__: 2 })).toBe("the stored value uses encryption version 2; this library reads version 1");
    const fernet = new Fernet(key);
    const notJson = Buffer.from(fernet.encrypt("not json {"), "ascii").toString("base64");
    expect(message({ __encrypted_data__: notJson, __encryption_version__: 1 })).toBe("the decrypted value is not JSON");
  });

  it("the envelope as written opens (the cases below differ from it in one field)", () => {
    expect(open(sealed)).toEqual(value);
    expect(open({ ...sealed, __encryption_version__: 0 })).toEqual(value);
  });

  it("base64 that py-key-value's b64decode(validate=True) refuses is refused, though Node's lenient decoder would read it", async () => {
    const data = sealed.__encrypted_data__;
    // Node's base64 decoder skips what is not in the alphabet: each of these decodes to the very same token.
    const lenient = [`${data.slice(0, 8)}\r\n\r\n${data.slice(8)}`, `${data.slice(0, 8)}%%%%${data.slice(8)}`, `    ${data}`, `${data}    `];
    for (const variant of lenient) {
      expect(variant.length % 4).toBe(0);
      expect(Buffer.from(variant, "base64").equals(Buffer.from(data, "base64"))).toBe(true);
      expect(decryptionFailed(open({ ...sealed, __encrypted_data__: variant }))).toBe(true);
    }
    // Standard base64 of a token of one cipher block (100 ASCII characters) ends in "==": without it, the
    // length is no multiple of 4, which validate=True refuses and Node does not mind.
    const small = new FernetEncryptionWrapper(mapStore(), { keys: key }).seal({ a: 1 }) as { __encrypted_data__: string };
    expect(open(small)).toEqual({ a: 1 });
    expect(small.__encrypted_data__).toMatch(/[^=]==$/);
    const unpadded = small.__encrypted_data__.replace(/=+$/, "");
    expect(Buffer.from(unpadded, "base64").equals(Buffer.from(small.__encrypted_data__, "base64"))).toBe(true);
    expect(decryptionFailed(open({ ...small, __encrypted_data__: unpadded }))).toBe(true);
  });

  it("a version that is not an integer, or a missing one, and data that is not a string are refused", () => {
    for (const version of [0.5, 1.5, undefined, null, true])
      expect(decryptionFailed(open({ __encrypted_data__: sealed.__encrypted_data__, ...(version === undefined ? {} : { __encryption_version__: version }) }))).toBe(true);
    // Data that is not a string, whatever it would look like as one ("null", "1234"): refused, not a TypeError.
    for (const data of [null, 1234, true, ["QUJD"]]) expect(decryptionFailed(open({ __encrypted_data__: data, __encryption_version__: 1 }))).toBe(true);
  });

  it("no error message carries the stored value", async () => {
    for (const stored of [{ ...sealed, __encryption_version__: 2 }, { ...sealed, __encrypted_data__: sealed.__encrypted_data__.slice(4) }, value, "RT-secret-2"]) {
      const error = await read(stored);
      expect(decryptionFailed(error)).toBe(true);
      expect(String(error)).not.toContain("secret");
      expect(String(error)).not.toContain(sealed.__encrypted_data__.slice(0, 20));
    }
  });
});
