import { assertSecureEndpoint, type FetchLike } from "../shared/back-channel.js";
import type { CredentialBinding } from "./credential-binding.js";
import { checkRegistration } from "./check-registration.js";
import type { ResolvedOptions } from "./resolved-options.js";
import { configuredClient, isUsableRegistration, registerClient, type ClientSource } from "./register-client.js";
import type { AuthorizationServerMetadata, ClientRecord, DiscoveryRecord, TokenStore } from "../store/token-store.js";

/**
 * Step 3, the client identity at an authorization server: pre-registered or CIMD when configured, else a
 * registration from the store (checked once with the server) or a new dynamic one. Remembers the one in use.
 */
export class ClientChooser {
  #client: { record: ClientRecord; source: ClientSource; issuer: string } | undefined;

  readonly #o: ResolvedOptions;
  readonly #store: TokenStore;
  readonly #backChannel: FetchLike;
  readonly #binding: CredentialBinding;

  constructor(
    o: ResolvedOptions,
    store: TokenStore,
    backChannel: FetchLike,
    binding: CredentialBinding,
  ) {
    this.#o = o;
    this.#store = store;
    this.#backChannel = backChannel;
    this.#binding = binding;
  }

  /** True when the client in use was registered (dynamically, now or by an earlier process): the server may forget it. */
  get registered(): boolean {
    return this.#client?.source === "dynamic" || this.#client?.source === "stored";
  }

  /** The authorization server changed: nothing registered at the old one may be used. */
  forget(): void {
    this.#client = undefined;
  }

  /** Loopback ports to listen on: the configured one, else the registration's (so its redirect URI still matches), else any. */
  callbackPorts(registration: ClientRecord | undefined): number[] {
    if (this.#o.callbackPort !== undefined) return [this.#o.callbackPort];
    const registered = registration?.redirect_uris[0];
    const port = registered && URL.canParse(registered) ? Number(new URL(registered).port) : 0;
    return port ? [port, 0] : [0];
  }

  async prepare(discovery: DiscoveryRecord, redirectUri: string, stored: ClientRecord | undefined, scope: string | undefined): Promise<ClientRecord> {
    const as = discovery.authorizationServer;
    const configured = configuredClient(this.#o, as, redirectUri);
    if (configured) {
      // Before the browser opens: the user must not log in to a server the credentials do not belong with.
      await this.#binding.check(as.issuer);
      return this.use(as.issuer, configured.record, configured.source);
    }
    const known = this.registered ? this.#client : undefined;
    if (known && known.issuer === as.issuer && isUsableRegistration(known.record, redirectUri, this.#o.now(), scope)) return known.record;
    if (stored && isUsableRegistration(stored, redirectUri, this.#o.now(), scope)) {
      // First use of a registration from an earlier process: make sure the server still knows it.
      const problem = await checkRegistration(as, stored, redirectUri, discovery.resource, scope, this.#backChannel);
      if (!problem) return this.use(as.issuer, stored, "stored");
      await this.drop(as.issuer, problem, stored.client_id);
    }
    assertSecureEndpoint(as.registration_endpoint ?? as.authorization_endpoint ?? "", "registration_endpoint", this.#o.network);
    const registered = await registerClient(as, redirectUri, this.#o, this.#backChannel, scope);
    const expiresAt = registered.client_secret_expires_at ?? 0;
    await this.#store.setClient(as.issuer, registered, expiresAt > 0 ? Math.max(expiresAt * 1000 - this.#o.now(), 1) : undefined);
    return this.use(as.issuer, registered, "dynamic");
  }

  use(issuer: string, record: ClientRecord, source: ClientSource): ClientRecord {
    this.#client = { record, source, issuer };
    this.#o.onEvent({ type: "client_ready", clientId: record.client_id, source });
    return record;
  }

  /** The client to refresh with, at the issuer of `as`: no registration happens on the refresh path. */
  async known(as: AuthorizationServerMetadata): Promise<{ record: ClientRecord } | undefined> {
    if (this.#client?.issuer === as.issuer) return this.#client;
    const configured = configuredClient(this.#o, as);
    if (configured) {
      await this.#binding.check(as.issuer);
      return configured;
    }
    const stored = await this.#store.getClient(as.issuer);
    return stored && { record: stored };
  }

  async drop(issuer: string, reason: string, clientId = this.#client?.record.client_id ?? ""): Promise<void> {
    this.#o.onEvent({ type: "client_dropped", clientId, reason });
    this.#client = undefined;
    await this.#store.delete("client", issuer);
  }
}
