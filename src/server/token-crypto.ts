import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

/** A fresh opaque token: 256 random bits, base64url. Used for codes, access and refresh tokens, client secrets. */
export function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The storage id of a token, code or client secret: SHA-256, base64url. Tokens carry 256 random bits,
 * so a fast hash is enough to make a leaked store useless to an attacker.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("base64url");
}

/** Compares two strings without leaking, through timing, how much of them matched. */
export function safeEqual(a: string, b: string): boolean {
  // Hashing first gives equal-length inputs, which timingSafeEqual requires, without revealing the length.
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
export function isCodeVerifier(value: string): boolean {
  return /^[A-Za-z0-9._~-]{43,128}$/.test(value);
}

/** RFC 7636 §4.2 S256 challenges are 32-byte hashes in base64url: exactly 43 characters. */
export function isS256Challenge(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

export function pkceMatches(verifier: string, challenge: string): boolean {
  return safeEqual(createHash("sha256").update(verifier, "ascii").digest("base64url"), challenge);
}

/**
 * Encrypts a refresh token's successor response under a key derived from the refresh token itself
 * (HKDF-SHA256, AES-256-GCM): the store keeps it, yet only a caller presenting that token can read it.
 */
export function sealForToken(token: string, payload: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFor(token), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

/** The payload sealed by `sealForToken`, or undefined when `sealed` was not sealed for this token. */
export function openForToken(token: string, sealed: string): unknown {
  try {
    const bytes = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", keyFor(token), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
    return JSON.parse(plain.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function keyFor(token: string): Buffer {
  return Buffer.from(hkdfSync("sha256", token, "mcp-oauth", "refresh-token-successor", 32));
}
