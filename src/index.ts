export { OAuth } from "./oauth.js";
export { OAuthError, isOAuthError, type OAuthErrorCode, type OAuthErrorDetails } from "./errors.js";
export type { OAuthOptions, TokenStorage, OAuthLogger } from "./options.js";
export type { OAuthEvent } from "./events.js";
export type { FetchLike } from "./back-channel.js";
export type { TokenRecord, ClientRecord, DiscoveryRecord, AuthorizationServerMetadata } from "./token-store.js";
export { Fernet, deriveFernetKey, type FernetDecryptOptions, type FernetEncryptOptions } from "./fernet.js";
export { FernetEncryptionWrapper, type FernetEncryptionOptions } from "./encrypt-store.js";
