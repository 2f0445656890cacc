/**
 * What the server's rate limits cost on the token path: refresh grants through `provider.handle`, in
 * process, on two `InMemoryOAuthProvider`s that differ only in `rateLimits` (off, and on with budgets too
 * large to refuse anything, so the check itself is what is measured), in alternating blocks so drift hits
 * both alike. Reported: medians per request and their ratio.
 */
import { createHash, randomBytes } from "node:crypto";
import { InMemoryOAuthProvider, type RateLimitOptions } from "../src/server/index.js";

export interface TokenPathResult {
  requests: number;
  offMedianUs: number;
  onMedianUs: number;
  ratio: number;
}

const base = "http://127.0.0.1:1";
const redirectUri = "http://127.0.0.1:9/callback";
const info = { clientAddress: "127.0.0.1" };
const huge = { requests: 1e9, windowSeconds: 3600 };

/** A provider with a logged-in client: returns a function that performs one refresh (rotating the token). */
async function refresher(rateLimits: RateLimitOptions | false): Promise<() => Promise<void>> {
  const provider = new InMemoryOAuthProvider({ baseUrl: base, autoApprove: true, clientRegistration: { enabled: true }, rateLimits });
  const post = (path: string, body: string, type = "application/x-www-form-urlencoded") =>
    provider.handle(new Request(`${base}${path}`, { method: "POST", headers: { "content-type": type }, body }), info);
  const client = (await (await post("/register", JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: "none" }), "application/json")).json()) as { client_id: string };
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const authorize = new URLSearchParams({ response_type: "code", client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: "S256" });
  const location = (await provider.handle(new Request(`${base}/authorize?${authorize}`), info)).headers.get("location") ?? "";
  const code = new URL(location).searchParams.get("code") ?? "";
  const exchange = new URLSearchParams({ grant_type: "authorization_code", client_id: client.client_id, code, code_verifier: verifier, redirect_uri: redirectUri });
  let refreshToken = ((await (await post("/token", exchange.toString())).json()) as { refresh_token: string }).refresh_token;
  return async () => {
    const response = await post("/token", new URLSearchParams({ grant_type: "refresh_token", client_id: client.client_id, refresh_token: refreshToken }).toString());
    if (response.status !== 200) throw new Error(`refresh answered ${response.status}`);
    refreshToken = ((await response.json()) as { refresh_token: string }).refresh_token;
  };
}

export async function measureTokenPath(requests: number): Promise<TokenPathResult> {
  const off = await refresher(false);
  const on = await refresher({ token: { perClient: huge, overall: huge } });
  const offTimes: number[] = [];
  const onTimes: number[] = [];
  const block = 100;
  for (let warm = 0; warm < block; warm++) await Promise.all([off(), on()]);
  for (let done = 0; done < requests; done += block) {
    for (const [run, times] of done % (2 * block) === 0 ? ([[off, offTimes], [on, onTimes]] as const) : ([[on, onTimes], [off, offTimes]] as const)) {
      for (let i = 0; i < block; i++) {
        const started = performance.now();
        await run();
        times.push((performance.now() - started) * 1000);
      }
    }
  }
  const offMedianUs = median(offTimes);
  const onMedianUs = median(onTimes);
  return { requests, offMedianUs, onMedianUs, ratio: onMedianUs / offMedianUs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
