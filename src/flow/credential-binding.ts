import { OAuthError } from "../shared/errors.js";
import type { ResolvedOptions } from "./resolved-options.js";
import type { TokenStore } from "../store/token-store.js";

/**
 * Pre-registered credentials go only to the authorization server they belong with. An MCP server names
 * its authorization server in metadata it serves itself, so a hostile, compromised or migrated MCP server
 * could otherwise send a client secret or a signed assertion wherever it likes. The server is the
 * `authorizationServer` option when given; else the issuer the credentials first obtained tokens from,
 * recorded in the store (and kept by `clearTokens()` and logout: it says where the credentials belong,
 * not who is logged in). Public clients (no secret, no key) have nothing to lose and are not bound.
 */
export class CredentialBinding {
  /** The issuer read from or written to the store, once per process. */
  #recorded: string | undefined;

  readonly #o: Pick<ResolvedOptions, "authorizationServer" | "clientId" | "clientSecret" | "signingKey" | "now">;
  readonly #store: TokenStore;

  constructor(
    o: Pick<ResolvedOptions, "authorizationServer" | "clientId" | "clientSecret" | "signingKey" | "now">,
    store: TokenStore,
  ) {
    this.#o = o;
    this.#store = store;
  }

  /** True when credentials that must not leak are configured. */
  get active(): boolean {
    return this.#o.clientId !== undefined && (this.#o.clientSecret !== undefined || this.#o.signingKey !== undefined);
  }

  /** Throws `authorization_server_mismatch` unless the credentials may go to `issuer`. Call before anything is sent there. */
  async check(issuer: string): Promise<void> {
    if (!this.active) return;
    const bound = this.#o.authorizationServer ?? (await this.#stored());
    if (bound !== undefined && bound !== issuer) {
      const origin = this.#o.authorizationServer ? "the `authorizationServer` option" : "the issuer they first obtained tokens from, recorded in the token store";
      throw new OAuthError(
        "authorization_server_mismatch",
        `the client's credentials belong with ${bound} (${origin}), but the MCP server sends them to ${issuer}; nothing was sent. If the MCP server really moved, set \`authorizationServer\` to the new issuer`,
      );
    }
  }

  /** After tokens were obtained at `issuer`: records it as the credentials' server, unless the option pins one. */
  async record(issuer: string): Promise<void> {
    if (!this.active || this.#o.authorizationServer !== undefined || (await this.#stored()) === issuer) return;
    if (await this.#store.setBinding({ issuer, clientId: this.#o.clientId as string, boundAt: this.#o.now() })) this.#recorded = issuer;
  }

  async #stored(): Promise<string | undefined> {
    if (this.#recorded === undefined) {
      const binding = await this.#store.getBinding();
      // A binding made for another client id does not bind this one.
      if (binding !== undefined && binding.clientId === this.#o.clientId) this.#recorded = binding.issuer;
    }
    return this.#recorded;
  }
}
