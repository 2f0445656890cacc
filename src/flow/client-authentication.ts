import { createPrivateKey, webcrypto, type KeyObject } from "node:crypto";
import { ClientSecretPost, modifyAssertion, None, PrivateKeyJwt, type ClientAuth } from "oauth4webapi";
import { OAuthError } from "../shared/errors.js";
import type { ClientRecord } from "../store/token-store.js";

/** JWS algorithms accepted for `private_key_jwt` client assertions (RFC 7523). */
export type SigningAlgorithm = "ES256" | "ES384" | "ES512" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "EdDSA";
export const signingAlgorithms = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"] as const;

/** A private key checked at construction and imported into WebCrypto once, on first use. */
export interface SigningKey {
  readonly alg: SigningAlgorithm;
  readonly kid: string | undefined;
  cryptoKey(): Promise<CryptoKey>;
}

const curves: Record<string, { alg: SigningAlgorithm; namedCurve: string }> = {
  prime256v1: { alg: "ES256", namedCurve: "P-256" },
  secp384r1: { alg: "ES384", namedCurve: "P-384" },
  secp521r1: { alg: "ES512", namedCurve: "P-521" },
};

/**
 * Reads a PEM private key (PKCS#8, SEC1 or PKCS#1) or takes a WebCrypto private key, and settles the
 * algorithm: the one given, which must suit the key, else the key's natural one (ES* by curve, RS256, EdDSA).
 */
export function loadSigningKey(privateKey: string | CryptoKey, algorithm: SigningAlgorithm | undefined, kid: string | undefined): SigningKey {
  if (typeof privateKey !== "string") {
    if (privateKey.type !== "private") throw new OAuthError("invalid_options", "invalid option `privateKey`: expected a private key");
    return { alg: algorithmOfCryptoKey(privateKey, algorithm), kid, cryptoKey: () => Promise.resolve(privateKey) };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch (error) {
    // The message names the format problem only; the PEM itself is never echoed.
    throw new OAuthError("invalid_options", "invalid option `privateKey`: not a readable PEM private key", { cause: new Error((error as Error).message) });
  }
  const { alg, importAlgorithm } = algorithmOfKey(key, algorithm);
  let imported: Promise<CryptoKey> | undefined;
  return {
    alg,
    kid,
    cryptoKey: () => (imported ??= webcrypto.subtle.importKey("pkcs8", key.export({ format: "der", type: "pkcs8" }), importAlgorithm, false, ["sign"])),
  };
}

function algorithmOfKey(key: KeyObject, requested: SigningAlgorithm | undefined): { alg: SigningAlgorithm; importAlgorithm: webcrypto.AlgorithmIdentifier | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams } {
  const type = key.asymmetricKeyType;
  const mismatch = (natural: string) => new OAuthError("invalid_options", `invalid option \`signingAlgorithm\`: ${requested} does not suit a ${natural} key`);
  if (type === "ec") {
    const curve = curves[key.asymmetricKeyDetails?.namedCurve ?? ""];
    if (!curve) throw new OAuthError("invalid_options", `invalid option \`privateKey\`: unsupported curve ${key.asymmetricKeyDetails?.namedCurve}`);
    if (requested && requested !== curve.alg) throw mismatch(curve.namedCurve);
    return { alg: curve.alg, importAlgorithm: { name: "ECDSA", namedCurve: curve.namedCurve } };
  }
  if (type === "rsa") {
    const alg = requested ?? "RS256";
    if (!/^(RS|PS)(256|384|512)$/.test(alg)) throw mismatch("RSA");
    return { alg, importAlgorithm: { name: alg.startsWith("PS") ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: `SHA-${alg.slice(2)}` } };
  }
  if (type === "ed25519") {
    if (requested && requested !== "EdDSA") throw mismatch("Ed25519");
    return { alg: "EdDSA", importAlgorithm: { name: "Ed25519" } };
  }
  throw new OAuthError("invalid_options", `invalid option \`privateKey\`: unsupported key type ${type}`);
}

function algorithmOfCryptoKey(key: CryptoKey, requested: SigningAlgorithm | undefined): SigningAlgorithm {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  const bits = algorithm.hash?.name.replace("SHA-", "") ?? "";
  const natural: string | undefined =
    algorithm.name === "ECDSA"
      ? { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[algorithm.namedCurve ?? ""]
      : ({ "RSASSA-PKCS1-v1_5": `RS${bits}`, "RSA-PSS": `PS${bits}`, Ed25519: "EdDSA" } as Record<string, string>)[algorithm.name];
  const alg = signingAlgorithms.find((candidate) => candidate === natural);
  if (!alg) throw new OAuthError("invalid_options", `invalid option \`privateKey\`: unsupported key algorithm ${algorithm.name}`);
  // oauth4webapi signs with the key's own algorithm, so another one cannot be honoured.
  if (requested && requested !== alg) throw new OAuthError("invalid_options", `invalid option \`signingAlgorithm\`: ${requested} does not suit this ${alg} key`);
  return alg;
}

/** How this client proves itself at the token endpoint, from its registered method. */
export function clientAuthentication(client: ClientRecord, signingKey?: SigningKey): ClientAuth {
  switch (client.token_endpoint_auth_method ?? "none") {
    case "none":
      return None();
    case "client_secret_basic":
      return formEncodedBasic(requireSecret(client));
    case "client_secret_post":
      return ClientSecretPost(requireSecret(client));
    case "private_key_jwt":
      if (!signingKey) throw new OAuthError("registration_failed", `client ${client.client_id} uses private_key_jwt but no \`privateKey\` is configured`);
      return async (as, c, body, headers) => {
        const key = await signingKey.cryptoKey();
        // oauth4webapi names an Ed25519 signature "Ed25519" (RFC 9864); servers that predate it know only
        // "EdDSA", the name this option documents. The signature bytes are the same under either name.
        const named = { [modifyAssertion]: (header: { alg?: string }) => void (header.alg = signingKey.alg) };
        return PrivateKeyJwt(signingKey.kid ? { key, kid: signingKey.kid } : key, named)(as, c, body, headers);
      };
    default:
      throw new OAuthError("registration_failed", `unsupported token_endpoint_auth_method ${client.token_endpoint_auth_method} for client ${client.client_id}`);
  }
}

/**
 * RFC 6749 §2.3.1 Basic authentication, form-encoding id and secret the WHATWG way. oauth4webapi also
 * escapes `-`, `.`, `_` and `*`, which many servers (the MCP conformance suite's among them) never
 * decode, so an id like `my-client` would not match; these characters need no escaping.
 *
 * The body names the client too. Every other method puts `client_id` in the body (oauth4webapi's
 * `None`, `ClientSecretPost`, `PrivateKeyJwt`), and with Basic RFC 6749 §3.2.1 allows it: the header
 * authenticates, the parameter identifies. Servers built on the MCP Python SDK (FastMCP among them)
 * read the client from the body alone and answer `invalid_client` "Missing client_id" without it;
 * servers that read both (oidc-provider, our `OAuthProvider`) check that they agree. So one rule holds
 * for every token endpoint request and every method: `client_id` is always in the body.
 */
function formEncodedBasic(secret: string): ClientAuth {
  return (_as, client, body, headers) => {
    const encode = (value: string) => new URLSearchParams([["", value]]).toString().slice(1);
    headers.set("authorization", `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(secret)}`).toString("base64")}`);
    body.set("client_id", client.client_id);
  };
}

function requireSecret(client: ClientRecord): string {
  if (!client.client_secret) {
    throw new OAuthError("registration_failed", `client ${client.client_id} uses ${client.token_endpoint_auth_method} but has no client_secret`);
  }
  return client.client_secret;
}
