import { createPublicKey, generateKeyPairSync, verify, webcrypto, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { clientAuthentication, loadSigningKey, type SigningAlgorithm } from "../src/flow/client-authentication.js";
import { isOAuthError } from "../src/index.js";

/**
 * How a pre-registered client proves itself, checked in this process: every key form `privateKey` accepts
 * (PEM in PKCS#8, SEC1 and PKCS#1, or a WebCrypto key) signs an RFC 7523 assertion that the matching
 * public key verifies, with the algorithm the key implies or the one asked for, the `kid` when given, and
 * the claims a token endpoint checks; keys and algorithms that do not go together are refused at
 * construction with `invalid_options`; the secret methods put `client_id` in the body. (The grants
 * themselves, against oidc-provider, are in machine-grants.test.ts.)
 */
const as = { issuer: "https://as.example", token_endpoint: "https://as.example/token" };

interface Signed {
  header: { alg: string; kid?: string };
  payload: { iss: string; sub: string; aud: string | string[]; exp: number; iat: number; jti: string };
  body: URLSearchParams;
}

async function sign(privateKey: string | webcrypto.CryptoKey, algorithm?: SigningAlgorithm, kid?: string): Promise<Signed & { verifiedWith: (key: KeyObject) => boolean }> {
  const signingKey = loadSigningKey(privateKey as string | CryptoKey, algorithm, kid);
  const body = new URLSearchParams();
  await clientAuthentication({ client_id: "m2m-client", token_endpoint_auth_method: "private_key_jwt", redirect_uris: [] }, signingKey)(as, { client_id: "m2m-client" }, body, new Headers());
  const assertion = body.get("client_assertion") ?? "";
  const [header = "", payload = "", signature = ""] = assertion.split(".");
  const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
  const parsed = { header: decode(header) as Signed["header"], payload: decode(payload) as Signed["payload"], body };
  const verifiedWith = (publicKey: KeyObject) => {
    const alg = parsed.header.alg;
    const data = Buffer.from(`${header}.${payload}`);
    const sig = Buffer.from(signature, "base64url");
    if (alg === "EdDSA") return verify(null, data, publicKey, sig);
    const hash = `sha${alg.slice(2)}`;
    if (alg.startsWith("ES")) return verify(hash, data, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig);
    if (alg.startsWith("PS")) return verify(hash, data, { key: publicKey, padding: 6, saltLength: Number(alg.slice(2)) / 8 }, sig);
    return verify(hash, data, publicKey, sig);
  };
  return { ...parsed, verifiedWith };
}

function pem(key: KeyObject, type: "pkcs8" | "sec1" | "pkcs1"): string {
  return key.export({ format: "pem", type } as never).toString();
}

const ec256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ec384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
const ec521 = generateKeyPairSync("ec", { namedCurve: "P-521" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ed = generateKeyPairSync("ed25519");

describe("private_key_jwt assertions from PEM keys", () => {
  const cases: [string, string, KeyObject, SigningAlgorithm | undefined, string][] = [
    ["EC P-256, PKCS#8", pem(ec256.privateKey, "pkcs8"), ec256.publicKey, undefined, "ES256"],
    ["EC P-256, SEC1, ES256 asked", pem(ec256.privateKey, "sec1"), ec256.publicKey, "ES256", "ES256"],
    ["EC P-384", pem(ec384.privateKey, "pkcs8"), ec384.publicKey, undefined, "ES384"],
    ["EC P-521", pem(ec521.privateKey, "sec1"), ec521.publicKey, undefined, "ES512"],
    ["RSA, PKCS#8 (RS256 by default)", pem(rsa.privateKey, "pkcs8"), rsa.publicKey, undefined, "RS256"],
    ["RSA, PKCS#1, RS384 asked", pem(rsa.privateKey, "pkcs1"), rsa.publicKey, "RS384", "RS384"],
    ["RSA, PS256 asked", pem(rsa.privateKey, "pkcs8"), rsa.publicKey, "PS256", "PS256"],
    ["RSA, PS512 asked", pem(rsa.privateKey, "pkcs8"), rsa.publicKey, "PS512", "PS512"],
    ["Ed25519", pem(ed.privateKey, "pkcs8"), ed.publicKey, undefined, "EdDSA"],
    ["Ed25519, EdDSA asked", pem(ed.privateKey, "pkcs8"), ed.publicKey, "EdDSA", "EdDSA"],
  ];
  for (const [name, privateKey, publicKey, asked, expected] of cases) {
    it(`${name}: signs ${expected}, verified by the public key, with the claims a token endpoint checks`, async () => {
      const signed = await sign(privateKey, asked, "key-1");
      expect(signed.header).toEqual({ alg: expected, kid: "key-1" });
      expect(signed.verifiedWith(publicKey)).toBe(true);
      expect(signed.payload).toMatchObject({ iss: "m2m-client", sub: "m2m-client" });
      expect([signed.payload.aud].flat()).toContain(as.issuer);
      expect(signed.payload.exp).toBeGreaterThan(signed.payload.iat);
      expect(signed.body.get("client_id")).toBe("m2m-client");
      expect(signed.body.get("client_assertion_type")).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    });
  }

  it("leaves kid out when none is configured", async () => {
    expect((await sign(pem(ec256.privateKey, "pkcs8"))).header).toEqual({ alg: "ES256" });
  });

  it("imports the key into WebCrypto as not extractable, once", async () => {
    const key = loadSigningKey(pem(ec256.privateKey, "pkcs8"), undefined, undefined);
    const first = await key.cryptoKey();
    expect(first.extractable).toBe(false);
    expect(await key.cryptoKey()).toBe(first);
  });
});

describe("private_key_jwt assertions from WebCrypto keys", () => {
  const subtle = webcrypto.subtle;
  const cases: [string, () => Promise<webcrypto.CryptoKeyPair>, string][] = [
    ["ECDSA P-256", () => subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>, "ES256"],
    ["ECDSA P-384", () => subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>, "ES384"],
    ["ECDSA P-521", () => subtle.generateKey({ name: "ECDSA", namedCurve: "P-521" }, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>, "ES512"],
    [
      "RSASSA-PKCS1-v1_5 SHA-384",
      () => subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-384" }, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>,
      "RS384",
    ],
    [
      "RSA-PSS SHA-256",
      () => subtle.generateKey({ name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>,
      "PS256",
    ],
    ["Ed25519", () => subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>, "EdDSA"],
  ];
  for (const [name, generate, expected] of cases) {
    it(`${name}: signs ${expected}, verified by the public key`, async () => {
      const pair = await generate();
      const signed = await sign(pair.privateKey);
      expect(signed.header.alg).toBe(expected);
      expect(signed.verifiedWith(createPublicKey({ key: (await subtle.exportKey("jwk", pair.publicKey)) as never, format: "jwk" }))).toBe(true);
      expect((await sign(pair.privateKey, expected as SigningAlgorithm)).header.alg).toBe(expected);
    });
  }

  it("refuses a public key, and an algorithm the key cannot sign with", async () => {
    const pair = (await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
    expect(refusal(() => loadSigningKey(pair.publicKey as CryptoKey, undefined, undefined))).toMatch(/`privateKey`: expected a private key/);
    expect(refusal(() => loadSigningKey(pair.privateKey as CryptoKey, "ES384", undefined))).toMatch(/`signingAlgorithm`: ES384 does not suit this ES256 key/);
  });

  it("refuses a key of an algorithm it cannot sign client assertions with", async () => {
    const hmac = await subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    expect(refusal(() => loadSigningKey(hmac as CryptoKey, undefined, undefined))).toMatch(/`privateKey`: (expected a private key|unsupported key algorithm HMAC)/);
    const x25519 = (await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as webcrypto.CryptoKeyPair;
    expect(refusal(() => loadSigningKey(x25519.privateKey as CryptoKey, undefined, undefined))).toMatch(/`privateKey`: unsupported key algorithm X25519/);
  });
});

describe("keys and algorithms that do not go together are refused at construction", () => {
  it("an algorithm that does not suit the key", () => {
    expect(refusal(() => loadSigningKey(pem(ec256.privateKey, "pkcs8"), "ES384", undefined))).toMatch(/`signingAlgorithm`: ES384 does not suit a P-256 key/);
    expect(refusal(() => loadSigningKey(pem(rsa.privateKey, "pkcs8"), "ES256", undefined))).toMatch(/`signingAlgorithm`: ES256 does not suit a RSA key/);
    expect(refusal(() => loadSigningKey(pem(ed.privateKey, "pkcs8"), "RS256", undefined))).toMatch(/`signingAlgorithm`: RS256 does not suit a Ed25519 key/);
  });

  it("a curve or key type it cannot sign with", () => {
    const k256 = generateKeyPairSync("ec", { namedCurve: "secp256k1" });
    expect(refusal(() => loadSigningKey(pem(k256.privateKey, "pkcs8"), undefined, undefined))).toMatch(/`privateKey`: unsupported curve secp256k1/);
    const x = generateKeyPairSync("x25519");
    expect(refusal(() => loadSigningKey(pem(x.privateKey, "pkcs8"), undefined, undefined))).toMatch(/`privateKey`: unsupported key type x25519/);
  });

  it("an unreadable PEM, without echoing it", () => {
    const secretLooking = "-----BEGIN PRIVATE KEY-----\nTOTALLY-SECRET-MATERIAL\n-----END PRIVATE KEY-----";
    let caught: unknown;
    try {
      loadSigningKey(secretLooking, undefined, undefined);
    } catch (error) {
      caught = error;
    }
    expect(isOAuthError(caught, "invalid_options")).toBe(true);
    expect((caught as Error).message).toBe("invalid option `privateKey`: not a readable PEM private key");
    expect((caught as Error).cause).toBeInstanceOf(Error);
    expect(JSON.stringify(caught) + String((caught as Error).cause) + (caught as Error).stack).not.toContain("TOTALLY-SECRET-MATERIAL");
  });
});

describe("clientAuthentication", () => {
  const client = { client_id: "c-1", redirect_uris: [] };

  it("client_secret_basic: the header authenticates and the body names the client", async () => {
    const body = new URLSearchParams();
    const headers = new Headers();
    await clientAuthentication({ ...client, token_endpoint_auth_method: "client_secret_basic", client_secret: "s3cret" })(as, client, body, headers);
    expect(headers.get("authorization")).toBe(`Basic ${Buffer.from("c-1:s3cret").toString("base64")}`);
    expect(body.get("client_id")).toBe("c-1");
  });

  it("a record that names no method is a public client: client_id in the body, no Authorization header", async () => {
    const body = new URLSearchParams();
    const headers = new Headers();
    await clientAuthentication(client)(as, client, body, headers);
    expect(body.get("client_id")).toBe("c-1");
    expect(headers.has("authorization")).toBe(false);
  });

  it("a secret method without a secret, private_key_jwt without a key, and an unknown method are registration_failed, named", () => {
    expect(refusal(() => clientAuthentication({ ...client, token_endpoint_auth_method: "client_secret_post" }))).toBe("client c-1 uses client_secret_post but has no client_secret");
    expect(refusal(() => clientAuthentication({ ...client, token_endpoint_auth_method: "private_key_jwt" }))).toMatch(/^client c-1 uses private_key_jwt but no `privateKey` is configured/);
    expect(refusal(() => clientAuthentication({ ...client, token_endpoint_auth_method: "tls_client_auth" }))).toBe("unsupported token_endpoint_auth_method tls_client_auth for client c-1");
  });
});

/** The message of the OAuthError `run` throws; fails the test if it returns or throws anything else. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(isOAuthError(error)).toBe(true);
    expect((error as { code: string }).code).toMatch(/^(invalid_options|registration_failed)$/);
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
}
