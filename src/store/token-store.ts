import { z } from "zod";
import { isOAuthError, OAuthError } from "../shared/errors.js";
import type { OAuthLogger } from "../shared/oauth-logger.js";
import type { TokenStorage } from "./token-storage.js";
import { resourceCovers } from "../shared/resource-covers.js";

/*
 * Storage key layout (documented in docs/storage.md), `<serverKey>` being `serverKeyOf(mcpUrl)` (its query hashed):
 *   mcp-oauth:v2:<serverKey>:discovery          what discovery found for this MCP server
 *   mcp-oauth:v2:<serverKey>:<issuer>:client    the dynamic registration at that authorization server
 *   mcp-oauth:v2:<serverKey>:<issuer>:tokens    the tokens that server issued for this MCP server
 *   mcp-oauth:v2:<serverKey>:binding            the issuer pre-registered credentials are bound to
 *   mcp-oauth:v2:<serverKey>:lock               the token lock's key (in the lock, not in the store)
 * Credentials are keyed by issuer so a server that moves to another authorization server never
 * receives credentials issued by the old one.
 *
 * v2 (v1 was 0.1.0's): the query is hashed into the key, and every record says what it is for (see
 * `StoredFor`). v1 records are not read: a process of this version logs in once on a store that only
 * holds v1 records, and holds a grant of its own, so it never refreshes with a 0.1.0 process's refresh
 * token (two versions sharing a store during an upgrade cannot spend one refresh token twice).
 */
const prefix = "mcp-oauth:v2:";

/**
 * What a record is for, written inside it (so inside the encryption, when there is one). Keys are not
 * encrypted: someone who can write to the store but has no key could otherwise copy server A's record
 * onto server B's key, and B's client would send A's access token to B and A's refresh token to B's
 * authorization server. A record read under a key it was not written for is refused as absent.
 */
interface StoredFor {
  kind: Kind;
  server: string;
  issuer?: string;
}
const storedForSchema = z.object({ kind: z.string(), server: z.string(), issuer: z.string().optional() });

/** An absolute `http:` or `https:` URL: anything else in a record (`""`, a relative path) is corruption. */
const webUrl = z.string().refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), "expected an absolute http(s) URL");

const metadataSchema = z.looseObject({
  /** The authorization server's issuer identifier (RFC 8414 §2); credentials and tokens are keyed by it. */
  issuer: z.string(),
  authorization_endpoint: z.string().optional(),
  token_endpoint: z.string().optional(),
  /** Dynamic client registration endpoint (RFC 7591); absent when the server does not offer registration. */
  registration_endpoint: z.string().optional(),
  /** Token revocation endpoint (RFC 7009), used by `oauth.logout()`. */
  revocation_endpoint: z.string().optional(),
  scopes_supported: z.array(z.string()).optional(),
  /** Must include `S256` for the authorization code grant, else the login stops with `pkce_unsupported`. */
  code_challenge_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  /** True when the server sends `iss` in authorization responses (RFC 9207); the callback then requires it. */
  authorization_response_iss_parameter_supported: z.boolean().optional(),
  /** True when the server accepts Client ID Metadata Document URLs as `client_id` (`clientMetadataUrl`). */
  client_id_metadata_document_supported: z.boolean().optional(),
});
/**
 * Authorization server metadata (RFC 8414) as this library reads it: the fields it uses, plus whatever
 * else the server published (kept as is). Part of a {@link DiscoveryRecord}.
 *
 * @useDeclaredType
 */
export type AuthorizationServerMetadata = z.infer<typeof metadataSchema>;
export const authorizationServerMetadataSchema = metadataSchema;

const discoverySchema = z.object({
  /** The RFC 8707 resource tokens are requested for, and that bounds where tokens are sent. */
  resource: webUrl,
  /** Where the protected resource metadata (RFC 9728) was found; absent on the legacy path. */
  resourceMetadataUrl: webUrl.optional(),
  /** `scopes_supported` of the protected resource metadata, when it lists them. */
  scopesSupported: z.array(z.string()).optional(),
  // Fresh metadata is judged field by field with typed errors (insecure_endpoint...); a stored copy that
  // is not even made of web URLs is corrupt, and dropped.
  authorizationServer: metadataSchema.extend({
    issuer: webUrl,
    authorization_endpoint: webUrl.optional(),
    token_endpoint: webUrl.optional(),
    registration_endpoint: webUrl.optional(),
    revocation_endpoint: webUrl.optional(),
  }),
  /** 2025-03-26 path: no protected resource metadata. */
  legacy: z.boolean(),
  /** When discovery ran, in milliseconds since the epoch. */
  discoveredAt: z.number(),
});
/**
 * What discovery found for one MCP server: its resource, and the authorization server that protects it.
 * Stored under `oauth.storageKey("discovery")` (with a `stored_for` field naming what it is for), and
 * reused so a later process skips the metadata requests.
 *
 * @useDeclaredType
 */
export type DiscoveryRecord = z.infer<typeof discoverySchema>;

const clientSchema = z.looseObject({
  client_id: z.string(),
  /** Present for a confidential client; a secret, so the store holding it deserves the care tokens get. */
  client_secret: z.string().optional(),
  /** When the secret expires, in seconds since the epoch; 0 or absent: never. The record expires with it. */
  client_secret_expires_at: z.number().optional(),
  token_endpoint_auth_method: z.string().optional(),
  /** The loopback callback URIs registered; a later login reuses the port of the first. */
  redirect_uris: z.array(z.string()),
});
/**
 * A dynamic client registration (RFC 7591 response) at one authorization server: `client_id`, and the
 * other fields the server returned. Stored under `oauth.storageKey("client", issuer)` and reused until
 * the server stops accepting it.
 *
 * @useDeclaredType
 */
export type ClientRecord = z.infer<typeof clientSchema>;

const tokenSchema = z.object({
  access_token: z.string(),
  /** The token type the server issued: Bearer (RFC 6750); tokens of any other type are never stored. */
  token_type: z.string(),
  /** Absent when the server issued none; a refresh response without one keeps the previous one. */
  refresh_token: z.string().optional(),
  /** The granted scope: the server's `scope`, else the scope asked for. */
  scope: z.string().optional(),
  /** Absolute expiry in ms since the epoch; absent when the server gave no `expires_in`. */
  expires_at: z.number().optional(),
  /** Scopes asked for, kept so a step-up can ask for their union with the challenged ones. */
  requested_scope: z.string().optional(),
  /** When the tokens were received, in milliseconds since the epoch. */
  obtained_at: z.number(),
});
/**
 * The tokens one authorization server issued for one MCP server. Stored without a TTL under
 * `oauth.storageKey("tokens", issuer)`, so the refresh token outlives the access token. Holds secrets:
 * encrypt the store (`FernetEncryptionWrapper`) where others can read it.
 *
 * @useDeclaredType
 */
export type TokenRecord = z.infer<typeof tokenSchema>;

const bindingSchema = z.object({
  /** The issuer the pre-registered credentials first obtained tokens from. */
  issuer: webUrl,
  /** The credentials' client id: another client id configured later is not bound by this record. */
  clientId: z.string(),
  boundAt: z.number(),
});
export type BindingRecord = z.infer<typeof bindingSchema>;

type Kind = "discovery" | "client" | "tokens" | "binding";
const schemas = { discovery: discoverySchema, client: clientSchema, tokens: tokenSchema, binding: bindingSchema } as const;
type RecordOf<K extends Kind> = z.infer<(typeof schemas)[K]>;

export class TokenStore {
  /** Keys already warned about: a corrupt record read again (polling under the lock) warns once. */
  readonly #warned = new Set<string>();
  readonly #schemas: { [K in Kind]: z.ZodType<RecordOf<K>> };

  /**
   * With `mcpUrl`, a discovery record must also describe that server (its resource covers the MCP URL,
   * as discovery requires): one that does not is as unreadable as a corrupt one.
   */
  readonly #storage: TokenStorage;
  readonly #serverKey: string;
  readonly #logger: OAuthLogger;

  constructor(
    storage: TokenStorage,
    serverKey: string,
    logger: OAuthLogger,
    mcpUrl?: URL,
  ) {
    this.#storage = storage;
    this.#serverKey = serverKey;
    this.#logger = logger;
    const discovery = mcpUrl ? discoverySchema.refine((record) => resourceCovers(record.resource, mcpUrl), "the resource does not cover the MCP URL") : discoverySchema;
    this.#schemas = { ...schemas, discovery };
  }

  key(kind: Kind, issuer?: string): string {
    return kind === "discovery" || kind === "binding" ? `${prefix}${this.#serverKey}:${kind}` : `${prefix}${this.#serverKey}:${issuer}:${kind}`;
  }

  /** Every writer of this server's tokens holds this lock, across processes. */
  lockKey(): string {
    return `${prefix}${this.#serverKey}:lock`;
  }

  getDiscovery(): Promise<DiscoveryRecord | undefined> {
    return this.#read("discovery");
  }
  setDiscovery(record: DiscoveryRecord): Promise<boolean> {
    return this.#write("discovery", undefined, record);
  }
  getBinding(): Promise<BindingRecord | undefined> {
    return this.#read("binding");
  }
  setBinding(record: BindingRecord): Promise<boolean> {
    return this.#write("binding", undefined, record);
  }
  getClient(issuer: string): Promise<ClientRecord | undefined> {
    return this.#read("client", issuer);
  }
  setClient(issuer: string, record: ClientRecord, ttlMs?: number): Promise<boolean> {
    return this.#write("client", issuer, record, ttlMs);
  }
  getTokens(issuer: string): Promise<TokenRecord | undefined> {
    return this.#read("tokens", issuer);
  }
  /** No TTL: the refresh token usually outlives the access token, and the store must not drop it. False when the write failed. */
  setTokens(issuer: string, record: TokenRecord): Promise<boolean> {
    return this.#write("tokens", issuer, record);
  }
  async delete(kind: Kind, issuer?: string): Promise<void> {
    try {
      await this.#storage.delete(this.key(kind, issuer));
    } catch (cause) {
      throw new OAuthError("storage_failed", `token store: could not delete the ${kind} record`, { cause, transient: true });
    }
  }

  async #read<K extends Kind>(kind: K, issuer?: string): Promise<RecordOf<K> | undefined> {
    let raw: unknown;
    try {
      raw = await this.#storage.get(this.key(kind, issuer));
    } catch (cause) {
      // A record that does not decrypt is not treated as absent: a login would overwrite it for every
      // process that holds the right key.
      if (isOAuthError(cause, "decryption_failed")) throw cause;
      throw new OAuthError("storage_failed", `token store: could not read the ${kind} record`, { cause, transient: true });
    }
    if (raw === undefined || raw === null) return undefined;
    const value = typeof raw === "string" ? safeJson(raw) : raw;
    const { stored_for: storedFor, ...record } = typeof value === "object" && value !== null ? (value as { stored_for?: unknown }) : { stored_for: undefined };
    const label = storedForSchema.safeParse(storedFor);
    if (!label.success || !this.#isFor(label.data, kind, issuer)) return this.#unreadable(kind, issuer, "it was written for another server, issuer or kind of record");
    const parsed = this.#schemas[kind].safeParse(record);
    // A corrupt record must not wedge the client: treat it as absent and let the flow rebuild it.
    if (!parsed.success) return this.#unreadable(kind, issuer, "it is not a valid record");
    return parsed.data as RecordOf<K>;
  }

  #isFor(label: z.infer<typeof storedForSchema>, kind: Kind, issuer: string | undefined): boolean {
    return label.kind === kind && label.server === this.#serverKey && label.issuer === issuer;
  }

  #unreadable(kind: Kind, issuer: string | undefined, why: string): undefined {
    const key = this.key(kind, issuer);
    if (!this.#warned.has(key)) this.#logger.warn(`mcp-oauth: ignoring an unreadable ${kind} record in the token store (${key}): ${why}`);
    this.#warned.add(key);
    return undefined;
  }

  /** True when written. */
  async #write<K extends Kind>(kind: K, issuer: string | undefined, record: RecordOf<K>, ttlMs?: number): Promise<boolean> {
    try {
      const storedFor: StoredFor = issuer === undefined ? { kind, server: this.#serverKey } : { kind, server: this.#serverKey, issuer };
      await this.#storage.set(this.key(kind, issuer), { ...record, stored_for: storedFor }, ttlMs);
      this.#warned.delete(this.key(kind, issuer));
      return true;
    } catch {
      // What was obtained stays usable in memory; losing the write must not fail the request that
      // paid for it (possibly with a browser login). Tokens are written again under the next lock.
      this.#logger.warn(`mcp-oauth: could not write the ${kind} record to the token store; it is kept in memory only`);
      return false;
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
