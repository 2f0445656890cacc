/**
 * Fernet beyond the specification's vectors: the token's timestamp and the TTL window at their exact
 * boundaries, the token and key forms Python's `cryptography` writes and reads (padding, whitespace, the
 * standard alphabet), keys that are refused, and tokens that are malformed yet carry a valid MAC (only a
 * holder of the key can make those, so the MAC check alone cannot be what refuses them).
 */
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveFernetKey, Fernet, isOAuthError, OAuthError } from "../src/index.js";

const failure = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

/** The error `run` throws, which must be an OAuthError with `code`. */
const refused = (run: () => unknown, code: "decryption_failed" | "invalid_options"): OAuthError => {
  const error = failure(run);
  expect(error).toBeInstanceOf(OAuthError);
  expect(isOAuthError(error, code)).toBe(true);
  return error as OAuthError;
};

/** A key whose bytes the test knows, so it can write tokens the way Fernet would, or almost. */
const keyBytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256));
const key = keyBytes.toString("base64url") + "=";
const signing = keyBytes.subarray(0, 16);
const encryption = keyBytes.subarray(16);

interface Forged {
  version?: number;
  timestampSeconds?: number;
  /** The ciphertext: by default AES-128-CBC with PKCS#7 padding of `plaintext`. */
  ciphertext?: Buffer;
  plaintext?: string;
}

/** A token signed with the test key, with any field chosen: 0x80 | timestamp | IV | ciphertext | HMAC. */
function forge({ version = 0x80, timestampSeconds = 1_000_000_000, ciphertext, plaintext = "hello" }: Forged): string {
  const iv = randomBytes(16);
  const header = Buffer.alloc(25);
  header[0] = version;
  header.writeBigUInt64BE(BigInt(timestampSeconds), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv("aes-128-cbc", encryption, iv);
  const body = Buffer.concat([header, ciphertext ?? Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])]);
  return Buffer.concat([body, createHmac("sha256", signing).update(body).digest()]).toString("base64url");
}

/** The timestamp (seconds) a token carries, read from its bytes. */
const timestampOf = (token: string): number => Number(Buffer.from(token, "base64url").readBigUInt64BE(1));

describe("Fernet keys", () => {
  it("refuses no key at all, and an IV of other than 16 bytes, saying which", () => {
    expect(refused(() => new Fernet([]), "invalid_options").message).toBe("Fernet needs at least one key");
    for (const iv of [randomBytes(15), randomBytes(17)]) expect(refused(() => new Fernet(key).encrypt("x", { iv }), "invalid_options").message).toBe("Fernet IV must be 16 bytes");
  });

  it("refuses an empty key list with invalid_options", () => {
    refused(() => new Fernet([]), "invalid_options");
  });

  it("generateKey gives what Python's Fernet.generate_key gives: padded url-safe base64 of 32 fresh random bytes", () => {
    const keys = [Fernet.generateKey(), Fernet.generateKey()];
    for (const k of keys) {
      // Python's Fernet(key) runs urlsafe_b64decode, which refuses a key without its "=".
      expect(k).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(Buffer.from(k, "base64url")).toHaveLength(32);
    }
    expect(keys[0]).not.toBe(keys[1]);
  });

  it("deriveFernetKey is PBKDF2-HMAC-SHA256 with 1,200,000 iterations, as py-key-value derives it (value from Python's hashlib)", () => {
    // python3 -c "import hashlib,base64; print(base64.urlsafe_b64encode(hashlib.pbkdf2_hmac('sha256', b'pass phrase', b'salt-1', 1200000, 32)).decode())"
    expect(deriveFernetKey("pass phrase", "salt-1")).toBe("mHqqr3W_Jh-3cz8X13QjMcPXJpx1wMVVFmClmpcc-PQ=");
  });

  it("reads a key with surrounding whitespace (a line read from a file or an environment variable)", () => {
    expect(new Fernet(`  ${key}\n`).decrypt(forge({})).toString()).toBe("hello");
  });

  it("refuses a key with a character outside both base64 alphabets, and a key of other than 32 bytes, naming neither", () => {
    // Still 32 bytes once a lenient decoder (Node's) skips the "!": refused all the same, never guessed at.
    const bad = `${key.slice(0, 10)}!${key.slice(10)}`;
    expect(Buffer.from(bad.replace(/=+$/, ""), "base64url")).toHaveLength(32);
    for (const k of [bad, randomBytes(31).toString("base64url"), randomBytes(33).toString("base64url")]) {
      const error = refused(() => new Fernet([key, k]), "invalid_options");
      expect(error.message).toContain("#2");
      expect(error.message).not.toContain(k.slice(0, 12));
    }
  });
});

describe("Fernet token timestamps and the TTL window", () => {
  it("writes the current second, rounded down, and the given IV", () => {
    const iv = Uint8Array.from({ length: 16 }, (_, i) => i);
    const token = new Fernet(key).encrypt("x", { nowMs: 1_700_000_000_999, iv });
    expect(timestampOf(token)).toBe(1_700_000_000);
    expect([...Buffer.from(token, "base64url").subarray(9, 25)]).toEqual([...iv]);
  });

  it("refuses an IV that is not 16 bytes with invalid_options", () => {
    refused(() => new Fernet(key).encrypt("x", { iv: new Uint8Array(15) }), "invalid_options");
  });

  it("a token exactly ttlSeconds old is still valid; a second later it has expired (now read in whole seconds, rounded down)", () => {
    const t = 1_700_000_000;
    const token = forge({ timestampSeconds: t });
    const fernet = new Fernet(key);
    expect(fernet.decrypt(token, { ttlSeconds: 10, nowMs: (t + 10) * 1000 + 999 }).toString()).toBe("hello");
    expect(refused(() => fernet.decrypt(token, { ttlSeconds: 10, nowMs: (t + 11) * 1000 }), "decryption_failed").message).toBe("Fernet: the token has expired");
  });

  it("a timestamp up to 60 s ahead of the clock is accepted under a TTL; 61 s ahead is refused", () => {
    const t = 1_700_000_000;
    const token = forge({ timestampSeconds: t });
    const fernet = new Fernet(key);
    expect(fernet.decrypt(token, { ttlSeconds: 10, nowMs: (t - 60) * 1000 }).toString()).toBe("hello");
    expect(refused(() => fernet.decrypt(token, { ttlSeconds: 10, nowMs: (t - 61) * 1000 + 999 }), "decryption_failed").message).toBe("Fernet: the token's timestamp is in the future");
  });

  it("without a TTL, neither the age nor a future timestamp matters (py-key-value decrypts without one)", () => {
    const fernet = new Fernet(key);
    const now = Date.now();
    expect(fernet.decrypt(forge({ timestampSeconds: 1 })).toString()).toBe("hello");
    expect(fernet.decrypt(forge({ timestampSeconds: Math.floor(now / 1000) + 3600 })).toString()).toBe("hello");
    expect(fernet.decrypt(forge({ timestampSeconds: Math.floor(now / 1000) + 3600 }), { nowMs: now }).toString()).toBe("hello");
  });
});

describe("Fernet token forms", () => {
  it("reads a token with surrounding whitespace, and one without its padding", () => {
    const fernet = new Fernet(key);
    const token = fernet.encrypt("hello"); // 73 bytes: two "=" of padding
    expect(token).toMatch(/[^=]==$/);
    expect(fernet.decrypt(` ${token}\n`).toString()).toBe("hello");
    expect(fernet.decrypt(token.replace(/=+$/, "")).toString()).toBe("hello");
  });

  it("refuses a token with a character outside the url-safe alphabet, though a lenient decoder would skip it", () => {
    const fernet = new Fernet(key);
    const token = fernet.encrypt("hello");
    for (const bad of [`${token.slice(0, 20)}!${token.slice(20)}`, `${token.slice(0, 20)} ${token.slice(20)}`]) {
      expect(Buffer.from(bad.replace(/=+$/, ""), "base64url").equals(Buffer.from(token.replace(/=+$/, ""), "base64url"))).toBe(true);
      expect(refused(() => fernet.decrypt(bad), "decryption_failed").message).toContain("base64");
    }
  });

  it("refuses padding that does not fit the token's length", () => {
    const fernet = new Fernet(key);
    const token = fernet.encrypt("hello");
    const error = refused(() => fernet.decrypt(token.replace(/=+$/, "=")), "decryption_failed");
    expect(error.message).toContain("base64");
  });

  it("refuses a token signed with the key but of another version than 0x80", () => {
    const error = refused(() => new Fernet(key).decrypt(forge({ version: 0x81 })), "decryption_failed");
    expect(error.message).toContain("version");
  });

  it("refuses, with decryption_failed and not a RangeError, tokens too short to hold a header, a block and a MAC", () => {
    const fernet = new Fernet(key);
    // 9 bytes: a version and a timestamp, nothing else; 57: a header and a MAC without a cipher block.
    for (const bytes of [Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.concat([Buffer.from([0x80]), randomBytes(56)])]) {
      const error = refused(() => fernet.decrypt(bytes.toString("base64url")), "decryption_failed");
      expect(error.message).toContain("length");
    }
  });

  it("refuses a signed token whose ciphertext is not whole blocks, or whose padding is wrong, and keeps the cause", () => {
    const fernet = new Fernet(key);
    const partial = refused(() => fernet.decrypt(forge({ ciphertext: randomBytes(17) })), "decryption_failed");
    expect(partial.message).toContain("length");
    // One whole block that is not PKCS#7-padded plaintext (decrypted with a fresh IV it is random).
    let error: OAuthError | undefined;
    for (let i = 0; i < 20 && !error; i += 1) {
      const caught = failure(() => fernet.decrypt(forge({ ciphertext: randomBytes(16) })));
      if (caught !== undefined) error = caught as OAuthError;
    }
    expect(isOAuthError(error, "decryption_failed")).toBe(true);
    expect(error?.message).toContain("does not decrypt");
    expect(error?.cause).toBeInstanceOf(Error);
  });

  it("refuses a token whose MAC does not verify before anything else is tried", () => {
    const token = forge({});
    const bytes = Buffer.from(token, "base64url");
    bytes[30] = (bytes[30] ?? 0) ^ 1; // a ciphertext bit: padding may still be fine, the MAC is not
    const error = refused(() => new Fernet(key).decrypt(bytes.toString("base64url")), "decryption_failed");
    expect(error.message).toContain("no key verifies");
    expect(error.cause).toBeUndefined();
  });
});
