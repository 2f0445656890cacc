import { isLoopbackHost } from "../shared/back-channel.js";
import { isClientIdUrl } from "./client-metadata-documents.js";
import { escapeHtml, page, pageHeaders } from "./html.js";

export interface ConsentView {
  /** Form target, e.g. `/consent`. */
  action: string;
  requestId: string;
  csrfToken: string;
  clientId: string;
  clientName: string | undefined;
  redirectUri: string;
  scopes: string[];
  resource: string;
  subject: string;
}

/** Prefix of the cookies that bind a consent form to the browser that loaded it (double submit, checked server side too). */
export const consentCookie = "mcp_oauth_consent";

/**
 * The cookie of one pending consent. One per request, so that two consent pages open in two tabs each
 * keep their own binding: with one shared cookie, loading the second page broke the first one's form.
 */
export function consentCookieName(requestId: string): string {
  return `${consentCookie}_${requestId}`;
}

/**
 * The consent page: who asks (client name, and the host the answer goes to, which a client cannot fake),
 * for what (scopes, resource), as whom. Everything a client sent is escaped; the page cannot be framed;
 * the form carries a CSRF token and may post only to this server and redirect only to the client.
 */
export function renderConsentPage(view: ConsentView, secureCookie: boolean): Response {
  const redirect = new URL(view.redirectUri);
  const host = redirect.protocol === "http:" || redirect.protocol === "https:" ? redirect.host : redirect.protocol;
  // A loopback host is the user's own computer whatever the scheme (an https: one included).
  const local = isLoopbackHost(redirect.hostname) || !redirect.protocol.startsWith("http");
  const name = view.clientName ? escapeHtml(view.clientName) : `an unnamed application (${escapeHtml(view.clientId)})`;
  // S12: a metadata document client is known by the host serving its document, which is what the user
  // can judge; a name in the document is the client's own claim.
  const documentHost = isClientIdUrl(view.clientId) && URL.canParse(view.clientId) ? escapeHtml(new URL(view.clientId).host) : undefined;
  const identity = documentHost
    ? `<p>This application is identified by <strong id="client-id-host">${documentHost}</strong> (its client ID is <code>${escapeHtml(view.clientId)}</code>).</p>\n${
        local
          ? `<p id="impersonation-warning"><strong>Warning:</strong> the answer goes to a program on your own computer, not to ${documentHost}. Any program can present ${documentHost}'s client ID this way: approve only if you started this application yourself just now.</p>\n`
          : ""
      }`
    : "";
  // No scope is not no access: the token gets whatever this server allows without one.
  const scopes =
    view.scopes.length > 0
      ? `<p>It asks for:</p>\n<ul>${view.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("")}</ul>`
      : "<p>It asks for no particular scope, which means the access this server gives every application you authorize: possibly all it offers.</p>";
  const body = `<h1>Authorize ${name}${documentHost ? ` from ${documentHost}` : ""}?</h1>
${identity}<p><strong id="client-name">${name}</strong> wants to access <code>${escapeHtml(view.resource)}</code> as <strong>${escapeHtml(view.subject)}</strong>.</p>
<p>The answer will be sent to <strong id="redirect-host">${escapeHtml(host)}</strong>.${
    local ? " That is an application on your own computer: approve only if you just started it." : ""
  }</p>
${scopes}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="request" value="${escapeHtml(view.requestId)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>`;
  const redirectTarget = formActionSource(redirect);
  const headers = new Headers(pageHeaders(["'self'", redirectTarget]));
  // With no-referrer, browsers send `Origin: null` on the form post, and the origin check needs the real one.
  headers.set("referrer-policy", "same-origin");
  headers.append(
    "set-cookie",
    `${consentCookieName(view.requestId)}=${view.csrfToken}; Path=${new URL(view.action, "http://x").pathname}; HttpOnly; SameSite=Strict; Max-Age=600${secureCookie ? "; Secure" : ""}`,
  );
  return new Response(page(`Authorize ${name}?`, body), { status: 200, headers });
}

/**
 * The CSP source that lets the form's 303 reach the client's redirect URI (form-action applies to the
 * redirect too). CSP's host-source grammar has no IPv6 literals: Chromium drops `http://[::1]:port` and
 * then blocks the redirect, so such a URI gets its scheme (`http:`), the narrowest valid source there is.
 * A private-use scheme (`com.example.app:`) is a scheme-source already.
 */
function formActionSource(redirect: URL): string {
  if (redirect.protocol !== "http:" && redirect.protocol !== "https:") return redirect.protocol;
  return redirect.hostname.startsWith("[") ? redirect.protocol : redirect.origin;
}

/** One cookie's value from a `Cookie` header. */
export function readCookie(header: string | null, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}
