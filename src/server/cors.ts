/**
 * CORS for the endpoints browser-based MCP clients call with fetch: metadata (GET), token, registration
 * and revocation (POST). Never for `/authorize`, which is a top-level navigation: a page that could read
 * its responses could read codes. No credentials are allowed, so `*` exposes nothing cookie-bound.
 */
export const corsHeaders: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "WWW-Authenticate",
};

export function preflight(methods: string): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders,
      "access-control-allow-methods": `${methods}, OPTIONS`,
      "access-control-allow-headers": "Authorization, Content-Type, MCP-Protocol-Version",
      "access-control-max-age": "86400",
    },
  });
}

/** The same response with the CORS headers added. */
export function withCors(response: Response): Response {
  for (const [name, value] of Object.entries(corsHeaders)) response.headers.set(name, value);
  return response;
}
