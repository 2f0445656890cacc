import { consentCookieName, readCookie, renderConsentPage } from "./consent-page.js";
import { escapeHtml, page, pageHeaders } from "./html.js";
import { readForm } from "./http.js";
import type { ResolvedProviderOptions } from "./options.js";
import { OAuthServerError } from "./server-errors.js";
import { hashToken, randomToken, safeEqual } from "./token-crypto.js";
import type { Approval, AuthorizationRequest, RegisteredClient } from "./types.js";

/** How long an authorization request waits for the user's decision. */
export const consentTtlMs = 10 * 60_000;

/** What the consent page needs; not the client record itself, which may be large. */
export interface PendingConsent {
  clientId: string;
  /** Shown on the page (escaped); undefined for a client that registered without a name. */
  clientName: string | undefined;
  /** The validated authorization request, handed to `approve` or `deny` once the user decides. */
  request: AuthorizationRequest;
  /** When the request stops waiting (ms since the epoch): `consentTtlMs` after `/authorize`. */
  expiresAt: number;
}

/**
 * Where pending consents live: process memory (`InMemoryOAuthProvider`) or a store shared by replicas
 * (`StoreOAuthProvider`), so that the page may be shown by one replica and the form posted to another.
 */
export interface PendingConsents {
  /** Keeps a new pending consent until `pending.expiresAt`; `false` when there is no room for it (nothing is evicted). */
  add(id: string, pending: PendingConsent): Promise<boolean>;
  /** The pending consent, or undefined when unknown (an expired one may be returned; the flow checks `expiresAt`). */
  get(id: string): Promise<PendingConsent | undefined>;
  /** Records the hash of the CSRF token of the page just rendered for it, replacing the previous one. */
  setCsrfHash(id: string, pending: PendingConsent, csrfHash: string): Promise<void>;
  /** The hash recorded by `setCsrfHash`, or undefined when no page was rendered (or the consent is gone). */
  csrfHash(id: string): Promise<string | undefined>;
  /**
   * Removes the pending consent and returns it; single use: of concurrent calls for one id at most one
   * gets it. Called only once the CSRF check has passed, so a forged post cannot destroy someone's consent.
   */
  take(id: string): Promise<PendingConsent | undefined>;
}

/** What the consent flow needs from its provider. */
export interface ConsentFlowDeps {
  /** The provider's resolved options: `baseUrl`, `basePath`, `now`. */
  options: ResolvedProviderOptions;
  /** Where pending consents and their CSRF hashes live. */
  pending: PendingConsents;
  /** The `autoApprove` option: approve without the page (tests and demos only). */
  autoApprove: boolean;
  /** The `authenticateUser` option: the signed-in user, or undefined (401 on the page, a denial with `autoApprove`). */
  authenticateUser: (request: Request) => string | undefined | Promise<string | undefined>;
  /** The provider's `approve`: mints and stores the code, returns the redirect to the client. */
  approve: (request: AuthorizationRequest, approval: Approval) => Promise<string>;
  /** The provider's `deny`: the error redirect to the client. */
  deny: (request: AuthorizationRequest, error?: string, description?: string) => string;
}

/**
 * The consent page of the built-in providers, as `authorize()` plus the `/consent` route: the request is
 * parked as a pending consent, the page shows it to the signed-in user with a CSRF token bound to a
 * per-request cookie, and the form post (same origin, matching cookie and token, single use) approves or
 * denies it.
 */
export class ConsentFlow {
  readonly #deps: ConsentFlowDeps;

  constructor(deps: ConsentFlowDeps) {
    this.#deps = deps;
  }

  /** `OAuthProvider.authorize`: approve at once with `autoApprove`, else park the request and send the browser to the page. */
  async authorize(client: RegisteredClient, request: AuthorizationRequest, httpRequest: Request): Promise<string> {
    const { options, pending } = this.#deps;
    if (this.#deps.autoApprove) {
      const subject = await this.#deps.authenticateUser(httpRequest);
      if (subject === undefined) return this.#deps.deny(request, "access_denied", "the user is not signed in");
      return this.#deps.approve(request, { subject });
    }
    const id = randomToken();
    // Full: refuse the newcomer rather than evict a consent another user may be reading.
    if (!(await pending.add(id, { clientId: client.client_id, clientName: client.client_name, request, expiresAt: options.now() + consentTtlMs }))) {
      throw new OAuthServerError("temporarily_unavailable", "too many authorization requests are waiting for a decision; try again later", 503);
    }
    return new URL(`${options.basePath}/consent?request=${id}`, options.baseUrl).href;
  }

  /** The `/consent` route: GET shows the page, POST takes the decision. */
  handle(request: Request): Promise<Response> {
    return request.method === "GET" ? this.#show(request) : this.#decide(request);
  }

  async #show(request: Request): Promise<Response> {
    const { options, pending: store } = this.#deps;
    const id = new URL(request.url).searchParams.get("request") ?? "";
    const pending = await store.get(id);
    if (!pending || pending.expiresAt <= options.now()) return message(400, "This authorization request is unknown or has expired. Start again from the application.");
    const subject = await this.#deps.authenticateUser(request);
    if (subject === undefined) return message(401, "Sign in first, then start again from the application.");
    const csrfToken = randomToken();
    await store.setCsrfHash(id, pending, hashToken(csrfToken));
    const { request: authorization } = pending;
    return renderConsentPage(
      {
        action: `${options.basePath}/consent`,
        requestId: id,
        csrfToken,
        clientId: pending.clientId,
        clientName: pending.clientName,
        redirectUri: authorization.redirectUri,
        scopes: authorization.scopes,
        resource: authorization.resource,
        subject,
      },
      options.baseUrl.protocol === "https:",
    );
  }

  async #decide(request: Request): Promise<Response> {
    const { options, pending: store } = this.#deps;
    // A cross-site post is refused outright; SameSite=Strict already keeps the cookie off it.
    const origin = request.headers.get("origin");
    if (origin !== null && origin !== options.baseUrl.origin) return message(403, "This form can only be submitted from this site.");
    let form: Map<string, string>;
    try {
      form = await readForm(request);
    } catch {
      return message(400, "The form could not be read.");
    }
    const id = form.get("request") ?? "";
    const csrf = form.get("csrf") ?? "";
    const cookie = readCookie(request.headers.get("cookie"), consentCookieName(id)) ?? "";
    const csrfHash = await store.csrfHash(id);
    const invalid = "This consent form is not valid any more. Start again from the application.";
    if (!csrfHash || !safeEqual(csrf, cookie) || !safeEqual(hashToken(csrf), csrfHash)) return message(403, invalid);
    // Single use: of two posts of the same form (or two replicas receiving one each), one takes it.
    const pending = await store.take(id);
    if (!pending) return message(403, invalid);
    if (pending.expiresAt <= options.now()) return message(400, "This authorization request has expired. Start again from the application.");
    const subject = await this.#deps.authenticateUser(request);
    if (subject === undefined) return message(401, "Sign in first, then start again from the application.");
    const location = form.get("decision") === "approve" ? await this.#deps.approve(pending.request, { subject }) : this.#deps.deny(pending.request);
    // 303: the browser must GET the client's redirect URI, not re-post this form to it (RFC 9700 §4.12).
    return new Response(null, { status: 303, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
  }
}

function message(status: number, text: string): Response {
  return new Response(page("Authorization", `<h1 class="err">Authorization</h1><p>${escapeHtml(text)}</p>`), { status, headers: pageHeaders() });
}
