/**
 * The consent flow on its own (ConsentFlow over a Map of pending consents and a test clock): what each
 * refusal says and when (to the millisecond of a consent's expiry), who is signed in at each step, the
 * cookie on https, and the 303 after a decision.
 */
import { describe, expect, it } from "vitest";
import { ConsentFlow, consentTtlMs, type PendingConsent, type PendingConsents } from "../../src/server/consent-flow.js";
import { OAuthServerError, type Approval, type AuthorizationRequest } from "../../src/server/index.js";
import { resolveProviderOptions } from "../../src/server/options.js";
import { pkce, preRegistered, REDIRECT_URI } from "./support.js";

const t0 = 1_700_000_000_000;
const client = preRegistered("c", { client_name: "Client" });
const request: AuthorizationRequest = { clientId: "c", redirectUri: REDIRECT_URI, redirectUriProvidedExplicitly: true, scopes: [], state: "s", codeChallenge: pkce().challenge, resource: "http://127.0.0.1:1/mcp" };

function setup(options: { baseUrl?: string; autoApprove?: boolean; user?: string | undefined; room?: number } = {}) {
  const clock = { now: t0 };
  const baseUrl = options.baseUrl ?? "http://127.0.0.1:1";
  const o = resolveProviderOptions({ baseUrl, now: () => clock.now, onError: () => undefined });
  const consents = new Map<string, PendingConsent>();
  const hashes = new Map<string, string>();
  const pending: PendingConsents = {
    add: async (id, consent) => consents.size < (options.room ?? 10) && Boolean(consents.set(id, consent)),
    get: async (id) => consents.get(id),
    setCsrfHash: async (id, _consent, hash) => void hashes.set(id, hash),
    csrfHash: async (id) => hashes.get(id),
    take: async (id) => {
      const consent = consents.get(id);
      consents.delete(id);
      return consent;
    },
  };
  const user: { name: string | undefined } = { name: "user" in options ? options.user : "alice" };
  const approvals: Approval[] = [];
  const flow = new ConsentFlow({
    options: o,
    pending,
    autoApprove: options.autoApprove ?? false,
    authenticateUser: () => user.name,
    approve: async (_request, approval) => {
      approvals.push(approval);
      return "http://127.0.0.1:9/cb?code=x";
    },
    deny: (_request, error = "access_denied", description = "") => `http://127.0.0.1:9/cb?error=${error}&error_description=${encodeURIComponent(description)}`,
  });
  const start = async () => new URL(await flow.authorize(client, request, new Request(baseUrl))).searchParams.get("request") ?? "";
  const show = async (id: string) => {
    const response = await flow.handle(new Request(`${baseUrl}/consent?request=${id}`));
    const html = await response.text();
    const csrf = html.match(/name="csrf" value="([^"]*)"/)?.[1] ?? "";
    return { response, html, csrf, cookie: (response.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "" };
  };
  const decide = (id: string, csrf: string, cookie: string, headers: Record<string, string> = {}) =>
    flow.handle(
      new Request(`${baseUrl}/consent`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie, origin: new URL(baseUrl).origin, ...headers },
        body: new URLSearchParams({ request: id, csrf, decision: "approve" }).toString(),
      }),
    );
  return { clock, flow, start, show, decide, user, approvals };
}

const text = async (response: Response) => (await response.text()).replace(/&#x27;/g, "'");

describe("ConsentFlow", () => {
  it("approves at once with autoApprove, and denies when nobody is signed in", async () => {
    const signedIn = setup({ autoApprove: true });
    expect(await signedIn.flow.authorize(client, request, new Request("http://127.0.0.1:1"))).toBe("http://127.0.0.1:9/cb?code=x");
    expect(signedIn.approvals).toEqual([{ subject: "alice" }]);
    const nobody = setup({ autoApprove: true, user: undefined });
    expect(await nobody.flow.authorize(client, request, new Request("http://127.0.0.1:1"))).toBe("http://127.0.0.1:9/cb?error=access_denied&error_description=the%20user%20is%20not%20signed%20in");
  });

  it("refuses a new consent when there is no room, saying so", async () => {
    const s = setup({ room: 0 });
    const error = await s.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthServerError);
    expect(error).toMatchObject({ error: "temporarily_unavailable", status: 503, description: "too many authorization requests are waiting for a decision; try again later" });
  });

  it("a consent waits the documented 10 minutes", () => {
    expect(consentTtlMs).toBe(600_000);
  });

  it("the page: until the consent's last millisecond, for a signed-in user; the cookie is Secure on https", async () => {
    const s = setup();
    const id = await s.start();
    s.clock.now = t0 + consentTtlMs - 1;
    expect((await s.show(id)).response.status).toBe(200);
    s.clock.now = t0 + consentTtlMs;
    const expired = await s.show(id);
    expect([expired.response.status, expired.html]).toEqual([400, expect.stringContaining("This authorization request is unknown or has expired. Start again from the application.")]);
    expect(expired.html).toContain("<title>Authorization</title>");
    expect(expired.html).toContain('<h1 class="err">Authorization</h1>');

    const anonymous = setup({ user: undefined });
    const page = await anonymous.show(await anonymous.start());
    expect([page.response.status, page.html]).toEqual([401, expect.stringContaining("Sign in first, then start again from the application.")]);

    const https = setup({ baseUrl: "https://auth.example" });
    expect((await https.show(await https.start())).response.headers.get("set-cookie")).toMatch(/; Secure$/);
    expect((await s.show(await s.start())).response.headers.get("set-cookie")).not.toMatch(/Secure/);
  });

  it("the decision: refused from another site, unreadable, with a wrong token, expired, or signed out, each saying so", async () => {
    const s = setup();
    const id = await s.start();
    const { csrf, cookie } = await s.show(id);
    const crossSite = await s.decide(id, csrf, cookie, { origin: "https://evil.example" });
    expect([crossSite.status, await text(crossSite)]).toEqual([403, expect.stringContaining("This form can only be submitted from this site.")]);
    const unreadable = await s.decide(id, csrf, cookie, { "content-type": "text/plain" });
    expect([unreadable.status, await text(unreadable)]).toEqual([400, expect.stringContaining("The form could not be read.")]);
    const forged = await s.decide(id, "forged", "mcp_oauth_consent_x=forged");
    expect([forged.status, await text(forged)]).toEqual([403, expect.stringContaining("This consent form is not valid any more. Start again from the application.")]);

    s.clock.now = t0 + consentTtlMs;
    const late = await s.decide(id, csrf, cookie);
    expect([late.status, await text(late)]).toEqual([400, expect.stringContaining("This authorization request has expired. Start again from the application.")]);

    const out = setup();
    const outId = await out.start();
    const form = await out.show(outId);
    out.user.name = undefined;
    const signedOut = await out.decide(outId, form.csrf, form.cookie);
    expect([signedOut.status, await text(signedOut)]).toEqual([401, expect.stringContaining("Sign in first, then start again from the application.")]);
  });

  it("an approval in the consent's last millisecond: a 303 to the client, not cached, no referrer, for the signed-in user", async () => {
    const s = setup();
    const id = await s.start();
    const { csrf, cookie } = await s.show(id);
    s.clock.now = t0 + consentTtlMs - 1;
    const approved = await s.decide(id, csrf, cookie);
    expect(approved.status).toBe(303);
    expect(Object.fromEntries(approved.headers)).toEqual({ location: "http://127.0.0.1:9/cb?code=x", "cache-control": "no-store", "referrer-policy": "no-referrer" });
    expect(s.approvals).toEqual([{ subject: "alice" }]);
  });
});
