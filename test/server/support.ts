import { createHash, randomBytes } from "node:crypto";
import { startOAuthProviderServer, type OAuthProviderServer, type OAuthProviderServerOptions } from "../../examples/oauth-provider-server.js";
import type { RegisteredClient } from "../../src/server/index.js";
import { rpc } from "../support/harness.js";
import { cleanupAfterEach } from "../support/local-server.js";

export const REDIRECT_URI = "http://127.0.0.1:9/callback";

export interface RegisteredForTest {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  [key: string]: unknown;
}

export interface Login {
  code: string;
  verifier: string;
  redirectUri: string;
  location: URL;
}

/** Our provider's example server with a controllable clock, and raw-HTTP helpers that speak the protocol by hand. */
export interface ServerUnderTest {
  server: OAuthProviderServer;
  clock: { now: number };
  url(path: string): string;
  register(metadata?: Record<string, unknown>): Promise<RegisteredForTest>;
  /** GET /authorize with `redirect: "manual"`. */
  authorize(params: Record<string, string | undefined>): Promise<Response>;
  /** A valid authorization request for `client`, approved (autoApprove), returning the code. */
  login(client: RegisteredForTest, params?: Record<string, string | undefined>): Promise<Login>;
  /** POST /token (or another endpoint) with a form body. */
  post(path: string, form: Record<string, string | undefined>, headers?: Record<string, string>): Promise<Response>;
  /** Redeems a login's code. */
  redeem(client: RegisteredForTest, login: Login, extra?: Record<string, string | undefined>): Promise<Response>;
  refresh(client: RegisteredForTest, refreshToken: string, extra?: Record<string, string | undefined>): Promise<Response>;
  mcp(accessToken: string | undefined, headers?: Record<string, string>): Promise<Response>;
}

export const closeLater = cleanupAfterEach();

/** A client for the `clients` option: public, authorization code only, redirecting to REDIRECT_URI unless overridden. */
export function preRegistered(client_id: string, extra: Partial<RegisteredClient> = {}): RegisteredClient {
  return { client_id, client_id_issued_at: 0, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"], ...extra };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export async function serverUnderTest(options: OAuthProviderServerOptions = {}): Promise<ServerUnderTest> {
  const clock = { now: Date.now() };
  const server = await startOAuthProviderServer({
    autoApprove: true,
    clientRegistration: { enabled: true, validScopes: ["mcp:tools", "mcp:admin"], defaultScopes: ["mcp:tools"] },
    requiredScopes: ["mcp:tools"],
    now: () => clock.now,
    ...options,
  });
  closeLater(server.close);
  const url = (path: string) => `${server.origin}${path}`;
  const post = (path: string, form: Record<string, string | undefined>, headers: Record<string, string> = {}) =>
    fetch(url(path), { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: formBody(form) });

  const t: ServerUnderTest = {
    server,
    clock,
    url,
    post,
    async register(metadata = {}) {
      const response = await fetch(url("/register"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_name: "test client", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", ...metadata }),
      });
      if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as RegisteredForTest;
    },
    authorize(params) {
      const target = new URL(url("/authorize"));
      for (const [key, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(key, value);
      return fetch(target, { redirect: "manual" });
    },
    async login(client, params = {}) {
      const { verifier, challenge } = pkce();
      const redirectUri = params.redirect_uri ?? client.redirect_uris[0] ?? REDIRECT_URI;
      const response = await t.authorize({
        response_type: "code",
        client_id: client.client_id,
        redirect_uri: redirectUri,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "state-1",
        resource: server.mcpUrl,
        ...params,
      });
      if (response.status !== 302) throw new Error(`authorize answered ${response.status}`);
      const location = new URL(response.headers.get("location") ?? "");
      const code = location.searchParams.get("code");
      if (!code) throw new Error(`no code in ${location.href}`);
      return { code, verifier, redirectUri, location };
    },
    redeem(client, login, extra = {}) {
      return post("/token", {
        grant_type: "authorization_code",
        client_id: client.client_id,
        code: login.code,
        code_verifier: login.verifier,
        redirect_uri: login.redirectUri,
        resource: server.mcpUrl,
        ...extra,
      });
    },
    refresh(client, refreshToken, extra = {}) {
      return post("/token", { grant_type: "refresh_token", client_id: client.client_id, refresh_token: refreshToken, ...extra });
    },
    mcp(accessToken, headers = {}) {
      const init = rpc();
      return fetch(server.mcpUrl, { ...init, headers: { ...(init.headers as Record<string, string>), ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}), ...headers } });
    },
  };
  return t;
}

/** A form body; undefined values are left out. */
export function formBody(form: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) if (value !== undefined) params.set(key, value);
  return params.toString();
}

export interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

export async function tokens(response: Response): Promise<TokenBody> {
  if (response.status !== 200) throw new Error(`token request answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as TokenBody;
}

export async function oauthError(response: Response): Promise<{ status: number; error: string; description: string }> {
  const body = (await response.json()) as { error: string; error_description: string };
  return { status: response.status, error: body.error, description: body.error_description };
}

/** The consent page's hidden fields and cookie, as a browser would have them after loading it. */
export async function loadConsentPage(url: string): Promise<{ page: Response; html: string; request: string; csrf: string; cookie: string }> {
  const page = await fetch(url, { redirect: "manual" });
  const html = await page.text();
  const field = (name: string) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? "";
  const cookie = (page.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "";
  return { page, html, request: field("request"), csrf: field("csrf"), cookie };
}

/**
 * A browser stand-in for the consent flow over plain HTTP: follows /authorize to the consent page,
 * submits the form with its cookie and CSRF token (`decision`), and delivers the redirect to the client.
 */
export function consentingBrowser(decision: "approve" | "deny" = "approve"): { open: (url: string) => Promise<void>; opened: string[]; done: Promise<unknown>[] } {
  const opened: string[] = [];
  const done: Promise<unknown>[] = [];
  const open = async (url: string) => {
    opened.push(url);
    const flow = (async () => {
      const consentUrl = (await fetch(url, { redirect: "manual" })).headers.get("location") ?? "";
      const consent = await loadConsentPage(consentUrl);
      const posted = await fetch(new URL("/consent", consentUrl), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: consent.cookie, origin: new URL(consentUrl).origin },
        body: new URLSearchParams({ request: consent.request, csrf: consent.csrf, decision }).toString(),
      });
      return fetch(posted.headers.get("location") ?? "", { redirect: "follow" });
    })();
    done.push(flow.catch(() => undefined));
  };
  return { open, opened, done };
}
