import { callbackPageHeaders, escapeHtml } from "../shared/callback-page.js";

export { escapeHtml };

/**
 * Headers of every HTML page the server renders: never cached, never framed (clickjacking on a consent
 * page is consent theft), no script. `formAction` lists where a form on the page may post and redirect.
 */
export function pageHeaders(formAction: readonly string[] = []): Record<string, string> {
  const actions = formAction.length > 0 ? formAction.join(" ") : "'none'";
  // The client's callback page has the same needs; only the form targets differ.
  return {
    ...callbackPageHeaders,
    "content-security-policy": `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action ${actions}; frame-ancestors 'none'`,
  };
}

/** A minimal page. `title` and `bodyHtml` must already be escaped by the caller. */
export function page(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f3f3f3;padding:0 .2rem}.err{color:#a00}
ul{padding-left:1.2rem}button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}</style></head>
<body>${bodyHtml}</body>
</html>
`;
}

/**
 * The page for an authorization request that cannot be redirected back (unknown client, unregistered
 * redirect URI): sending the browser to an unverified URI would make the server an open redirector.
 */
export function errorPage(error: string, description: string, status = 400): Response {
  const body = `<h1 class="err">Authorization request refused</h1><p><code>${escapeHtml(error)}</code>: ${escapeHtml(description)}</p>
<p>Nothing was sent back to the application. You can close this tab.</p>`;
  return new Response(page("Authorization request refused", body), { status, headers: pageHeaders() });
}
