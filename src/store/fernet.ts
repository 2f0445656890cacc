import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { OAuthError } from "../shared/errors.js";

/*
 * Fernet (https://github.com/fernet/spec/blob/master/Spec.md) on node:crypto:
 *   token = base64url( 0x80 | timestamp (u64 BE, seconds) | IV (16) | AES-128-CBC-PKCS7(plaintext) | HMAC-SHA256 (32) )
 * with the 32-byte key split into a signing key (first half) and an encryption key (second half).
 * Tokens are what Python's `cryptography.fernet.Fernet` reads and writes.
 */
const version = 0x80;
const headerBytes = 1 + 8 + 16;
const macBytes = 32;
/** How far in the future a token's timestamp may be when a TTL is checked (as in Python's cryptography). */
const maxClockSkewSeconds = 60;
const base64url = /^[A-Za-z0-9_-]*={0,2}$/;

interface FernetKey {
  signing: Buffer;
  encryption: Buffer;
}

/** Options of {@link Fernet.decrypt}. */
export interface FernetDecryptOptions {
  /** Refuse tokens older than this many seconds. Default: no age limit (as py-key-value decrypts). */
  ttlSeconds?: number;
  /** Clock in milliseconds since the epoch. Default `Date.now()`. */
  nowMs?: number;
}

/** Options of {@link Fernet.encrypt}; the defaults are right outside tests. */
export interface FernetEncryptOptions {
  /** Timestamp written into the token, in milliseconds. Default `Date.now()`. */
  nowMs?: number;
  /** 16 bytes; default random. Only test vectors fix it. */
  iv?: Uint8Array;
}

/**
 * Fernet with key rotation (Python's `MultiFernet`): encrypts with the first key, decrypts with any.
 * Errors are `OAuthError` `decryption_failed` (tokens) or `invalid_options` (keys); never a secret in them.
 */
export class Fernet {
  readonly #keys: FernetKey[];

  /** `keys`: url-safe base64 of 32 random bytes each (`Fernet.generateKey()`), newest first. */
  constructor(keys: string | readonly string[]) {
    const list = typeof keys === "string" ? [keys] : [...keys];
    if (list.length === 0) throw new OAuthError("invalid_options", "Fernet needs at least one key");
    this.#keys = list.map((key, index) => parseKey(key, index));
  }

  /** A new random key: 32 bytes from the system's secure generator, as padded url-safe base64 (44 characters). */
  static generateKey(): string {
    return randomBytes(32).toString("base64url") + "=";
  }

  /**
   * Encrypts and authenticates `plaintext` (a string is taken as UTF-8) with the first key, and returns the
   * Fernet token as padded url-safe base64. Throws `OAuthError` `invalid_options` for an IV that is not 16 bytes.
   */
  encrypt(plaintext: Uint8Array | string, options: FernetEncryptOptions = {}): string {
    const key = this.#keys[0] as FernetKey;
    const iv = Buffer.from(options.iv ?? randomBytes(16));
    if (iv.length !== 16) throw new OAuthError("invalid_options", "Fernet IV must be 16 bytes");
    const header = Buffer.alloc(headerBytes);
    header[0] = version;
    header.writeBigUInt64BE(BigInt(Math.floor((options.nowMs ?? Date.now()) / 1000)), 1);
    iv.copy(header, 9);
    const cipher = createCipheriv("aes-128-cbc", key.encryption, iv);
    const body = Buffer.concat([header, cipher.update(typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext), cipher.final()]);
    const mac = createHmac("sha256", key.signing).update(body).digest();
    // Python emits padded url-safe base64; so do we.
    return Buffer.concat([body, mac]).toString("base64url").padEnd(Math.ceil((body.length + macBytes) / 3) * 4, "=");
  }

  /**
   * Checks a Fernet token against every key and returns the plaintext bytes. Throws `OAuthError`
   * `decryption_failed` when the token is malformed or no key verifies it, and, with `ttlSeconds`, when it
   * is older than that or dated more than 60 seconds ahead.
   */
  decrypt(token: string, options: FernetDecryptOptions = {}): Buffer {
    const data = decodeToken(token);
    const timestamp = Number(data.readBigUInt64BE(1));
    if (options.ttlSeconds !== undefined) {
      const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
      if (timestamp + options.ttlSeconds < now) throw invalid("the token has expired");
      if (now + maxClockSkewSeconds < timestamp) throw invalid("the token's timestamp is in the future");
    }
    const body = data.subarray(0, data.length - macBytes);
    const mac = data.subarray(data.length - macBytes);
    const key = this.#keys.find((candidate) => timingSafeEqual(createHmac("sha256", candidate.signing).update(body).digest(), mac));
    if (!key) throw invalid("no key verifies the token (wrong key, or the value was altered)");
    try {
      const decipher = createDecipheriv("aes-128-cbc", key.encryption, data.subarray(9, headerBytes));
      return Buffer.concat([decipher.update(data.subarray(headerBytes, data.length - macBytes)), decipher.final()]);
    } catch (cause) {
      throw invalid("the ciphertext does not decrypt", cause);
    }
  }
}

/**
 * py-key-value's `source_material` + `salt` key derivation: PBKDF2-HMAC-SHA256, 1,200,000 iterations,
 * 32 bytes, url-safe base64. Slow on purpose (about a second): derive once at startup.
 */
export function deriveFernetKey(sourceMaterial: string, salt: string): string {
  return pbkdf2Sync(Buffer.from(sourceMaterial, "utf8"), Buffer.from(salt, "utf8"), 1_200_000, 32, "sha256").toString("base64url") + "=";
}

function parseKey(key: string, index: number): FernetKey {
  const text = key.trim().replace(/\+/g, "-").replace(/\//g, "_");
  const bytes = base64url.test(text) ? Buffer.from(text.replace(/=+$/, ""), "base64url") : undefined;
  if (bytes?.length !== 32) throw new OAuthError("invalid_options", `Fernet key #${index + 1} is not url-safe base64 of 32 bytes`);
  return { signing: bytes.subarray(0, 16), encryption: bytes.subarray(16) };
}

function decodeToken(token: string): Buffer {
  const text = token.trim();
  if (!base64url.test(text) || (text.includes("=") && text.length % 4 !== 0)) throw invalid("the token is not url-safe base64");
  const data = Buffer.from(text.replace(/=+$/, ""), "base64url");
  // The smallest token carries one cipher block.
  if (data.length < headerBytes + 16 + macBytes || (data.length - headerBytes - macBytes) % 16 !== 0) throw invalid("the token has the wrong length");
  if (data[0] !== version) throw invalid("the token's version is not 0x80");
  return data;
}

function invalid(reason: string, cause?: unknown): OAuthError {
  return new OAuthError("decryption_failed", `Fernet: ${reason}`, cause === undefined ? {} : { cause });
}
