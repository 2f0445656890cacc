import { OAuthError } from "../shared/errors.js";
import { Fernet } from "./fernet.js";
import type { TokenStorage } from "./token-storage.js";

/*
 * The envelope of py-key-value's FernetEncryptionWrapper (what FastMCP uses), so one key reads what
 * either side wrote:
 *   { "__encrypted_data__": base64(standard alphabet) of the Fernet token's ASCII, "__encryption_version__": 1 }
 * around the compact JSON of the value. The Fernet token is itself url-safe base64, hence two layers.
 */
const dataField = "__encrypted_data__";
const versionField = "__encryption_version__";
const envelopeVersion = 1;
const standardBase64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Options of {@link FernetEncryptionWrapper}. */
export interface FernetEncryptionOptions {
  /**
   * Fernet keys (url-safe base64 of 32 bytes: `Fernet.generateKey()`), or a `Fernet`. With several,
   * values are written with the first and read with any of them: add the new key in front to rotate,
   * drop the old one once every value was rewritten.
   */
  keys: string | readonly string[] | Fernet;
  /**
   * Pass through values that are not encrypted, as py-key-value does. Default false: anyone who can
   * write to the store could otherwise plant records (for example a token endpoint of their choosing).
   */
  acceptPlaintext?: boolean;
}

/**
 * Wraps any store so values are encrypted at rest with Fernet, in py-key-value's envelope. Keys and
 * TTLs are unchanged. A value that does not decrypt throws `OAuthError` `decryption_failed`: it is
 * never returned as garbage, and the token store does not overwrite it (see docs/storage.md,
 * "Encryption at rest").
 */
export class FernetEncryptionWrapper implements TokenStorage {
  /** The wrapped store: default locks are derived from it. */
  readonly inner: TokenStorage;
  readonly #fernet: Fernet;
  readonly #acceptPlaintext: boolean;

  /** Throws `OAuthError` `invalid_options` when a key is not url-safe base64 of 32 bytes. */
  constructor(inner: TokenStorage, options: FernetEncryptionOptions) {
    this.inner = inner;
    this.#fernet = options.keys instanceof Fernet ? options.keys : new Fernet(options.keys);
    this.#acceptPlaintext = options.acceptPlaintext ?? false;
  }

  /**
   * Reads `key` from the inner store and returns the decrypted value, or `undefined` when there is none.
   * Rejects with `OAuthError` `decryption_failed` when the value does not decrypt with any key (or is
   * plaintext and `acceptPlaintext` is off), and with the inner store's error when the read fails.
   */
  async get(key: string): Promise<unknown> {
    const raw = await this.inner.get(key);
    if (raw === undefined || raw === null) return undefined;
    return this.open(typeof raw === "string" ? (parseJson(raw) ?? raw) : raw);
  }

  /** Encrypts `value` (as JSON, with the first key) and writes the envelope to the inner store with the same `ttl`. */
  set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    return this.inner.set(key, this.seal(value), ttl);
  }

  /** Deletes `key` from the inner store; keys are not encrypted, so nothing needs decrypting. */
  delete(key: string): Promise<unknown> {
    return this.inner.delete(key);
  }

  /** The envelope for `value`: what {@link FernetEncryptionWrapper.set} writes. */
  seal(value: unknown): Record<string, unknown> {
    const token = this.#fernet.encrypt(JSON.stringify(value));
    return { [dataField]: Buffer.from(token, "ascii").toString("base64"), [versionField]: envelopeVersion };
  }

  /**
   * The value inside an envelope: what {@link FernetEncryptionWrapper.get} returns. Throws `OAuthError`
   * `decryption_failed` as `get` does.
   */
  open(stored: unknown): unknown {
    if (!isRecord(stored) || !(dataField in stored)) {
      if (this.#acceptPlaintext) return stored;
      throw new OAuthError("decryption_failed", "the stored value is not encrypted (set acceptPlaintext to read unencrypted values)");
    }
    const data = stored[dataField];
    const version = stored[versionField];
    if (typeof data !== "string" || typeof version !== "number" || !Number.isInteger(version) || !standardBase64.test(data) || data.length % 4 !== 0) {
      throw new OAuthError("decryption_failed", "the stored encryption envelope is malformed");
    }
    if (version > envelopeVersion) throw new OAuthError("decryption_failed", `the stored value uses encryption version ${version}; this library reads version 1`);
    const plaintext = this.#fernet.decrypt(Buffer.from(data, "base64").toString("ascii")).toString("utf8");
    const value = parseJson(plaintext);
    if (value === undefined) throw new OAuthError("decryption_failed", "the decrypted value is not JSON");
    return value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
