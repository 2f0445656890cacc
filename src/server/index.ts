export { OAuthProvider, type RequestInfo } from "./oauth-provider.js";
export { RedisRateLimiter, type RedisRateLimitClient } from "./redis-rate-limiter.js";
export type { RedisServerClient } from "./redis-command.js";
export { MemoryRateLimiter, defaultRateLimits, type RateLimiter, type RateLimitRule, type RateLimitOptions, type EndpointLimits, type LimitedEndpoint } from "./rate-limit.js";
export { InMemoryOAuthProvider, type InMemoryOAuthProviderOptions } from "./in-memory-provider.js";
export { StoreOAuthProvider, type StoreOAuthProviderOptions } from "./store-oauth-provider.js";
export { MemoryProviderStore, type ProviderStore, type MemoryProviderStoreOptions } from "./provider-store.js";
export { RedisProviderStore, type RedisProviderStoreOptions } from "./redis-provider-store.js";
export { PostgresProviderStore, type PostgresProviderStoreOptions, type PostgresQueryable } from "./postgres-provider-store.js";
export type { OAuthProviderOptions, ClientRegistrationOptions, ClientMetadataDocumentOptions, RevocationOptions, ResolvedProviderOptions, ResolvedClientMetadataDocuments } from "./options.js";
export { OAuthServerError } from "./server-errors.js";
export type { BearerCheck, BearerOptions } from "./require-bearer.js";
export { hashToken } from "./token-crypto.js";
export { toNodeListener, nodeMiddleware, nodeRequireBearer, toWebRequest, sendWebResponse, requestInfo, defaultBodyTimeoutMs, type NodeListenerOptions, type NextFunction } from "./node-adapter.js";
export type {
  AccessToken,
  Approval,
  AuthInfo,
  AuthorizationCode,
  AuthorizationRequest,
  ClientAuthMethod,
  ClientMetadata,
  GrantBinding,
  RefreshRotation,
  RefreshToken,
  RegisteredClient,
  Revocation,
  TokenSet,
} from "./types.js";
