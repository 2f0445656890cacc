/**
 * The page the browser shows after the redirect. Everything interpolated comes from the network
 * (an error description, a server URL), so all of it is escaped, and the headers forbid framing,
 * caching and any script or remote resource.
 */
export const callbackPageHeaders: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  pragma: "no-cache",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const entities: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] ?? char);
}

export function renderCallbackPage(outcome: { ok: true } | { ok: false; message: string }): string {
  const title = outcome.ok ? "Authorization complete" : "Authorization failed";
  const detail = outcome.ok
    ? "You can close this tab and return to the application."
    : `${escapeHtml(outcome.message)}<br><br>You can close this tab and return to the application.`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.err{color:#a00}</style></head>
<body><h1 class="${outcome.ok ? "ok" : "err"}">${title}</h1><p>${detail}</p></body>
</html>
`;
}
