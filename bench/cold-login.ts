/**
 * A cold login, side by side: our first `oauth.fetch` (401, discovery, registration, the browser step, the
 * loopback callback, the code exchange, the retry) against the MCP SDK 1.x client's own `auth()` doing
 * the same work (the request that gets the 401, `auth()` up to the redirect, the minimal loopback
 * callback server an application must add to it, `auth()` with the code, the retried request). Same
 * server (InMemoryOAuthProvider, consent auto-approved, rate limits off), same browser stand-in (the
 * authorization URL fetched, its redirect followed to the callback), a fresh store on each login,
 * alternating rounds. Our time is also broken down by the pipeline's own events.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { auth, extractWWWAuthenticateParams, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import Keyv from "keyv";
import { Agent, fetch as undiciFetch } from "undici";
import { OAuth, type OAuthEvent } from "../src/index.js";
import { startOAuthProviderServer } from "../examples/oauth-provider-server.js";

export interface ColdLoginResult {
  rounds: number;
  oursMedianMs: number;
  sdkMedianMs: number;
  ratio: number;
  /** Our median time per phase, in pipeline order. */
  phases: [string, number][];
}

const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** The browser stand-in both sides get: the authorization URL is fetched and its redirects followed. */
async function browse(url: string): Promise<void> {
  const page = await fetch(url, { redirect: "follow" });
  await page.arrayBuffer();
}

/** Our side: one `oauth.fetch` from a fresh store; the phases are cut at the pipeline's events. */
async function oursOnce(mcpUrl: string): Promise<{ totalMs: number; marks: [string, number][] }> {
  const start = performance.now();
  const marks: [string, number][] = [];
  const mark = (name: string) => marks.push([name, performance.now() - start]);
  const onEvent = (event: OAuthEvent) => {
    if (event.type === "authorization_server_found") mark("discovery");
    else if (event.type === "client_ready") mark("registration");
    else if (event.type === "callback_listening") mark("callback server");
    else if (event.type === "callback_received") mark("browser and callback");
    else if (event.type === "tokens_stored") mark("token");
  };
  const oauth = new OAuth({ mcpUrl, tokenStorage: new Keyv(), openBrowser: (url) => void browse(url).catch(() => undefined), onEvent, logger: { warn: () => undefined } });
  mark("construction");
  const response = await oauth.fetch(mcpUrl, { method: "POST", headers, body });
  if (response.status !== 200) throw new Error(`ours: the MCP server answered ${response.status}`);
  await response.arrayBuffer();
  mark("retried request");
  return { totalMs: performance.now() - start, marks };
}

/** The SDK side: a provider kept in memory, as an application writes it, and its loopback callback server. */
async function sdkOnce(mcpUrl: string): Promise<number> {
  const start = performance.now();
  let resolveCode: (code: string) => void = () => undefined;
  const codeArrived = new Promise<string>((resolve) => (resolveCode = resolve));
  let expectedState = "";
  const callback = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const code = url.searchParams.get("code");
    // What an application must check itself: the path, the state, a code at all.
    if (url.pathname !== "/callback" || url.searchParams.get("state") !== expectedState || !code) return void res.writeHead(400).end();
    res.writeHead(200, { "content-type": "text/plain" }).end("You may close this window.");
    resolveCode(code);
  });
  await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
  const redirectUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
  // A new process starts with no connection to the authorization server: auth() gets an agent of its own,
  // as each OAuth instance's back channel has one (the MCP requests of both sides use the global fetch).
  const agent = new Agent();
  const backChannel = ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  let client: OAuthClientInformationMixed | undefined;
  let tokens: OAuthTokens | undefined;
  let verifier = "";
  const provider: OAuthClientProvider = {
    redirectUrl,
    clientMetadata: { client_name: "bench", redirect_uris: [redirectUrl], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" } satisfies OAuthClientMetadata,
    state: () => (expectedState = crypto.randomUUID()),
    clientInformation: () => client,
    saveClientInformation: (information) => void (client = information),
    tokens: () => tokens,
    saveTokens: (saved) => void (tokens = saved),
    redirectToAuthorization: (url) => void browse(url.href).catch(() => undefined),
    saveCodeVerifier: (saved) => void (verifier = saved),
    codeVerifier: () => verifier,
  };
  try {
    const first = await fetch(mcpUrl, { method: "POST", headers, body });
    await first.arrayBuffer();
    const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(first);
    const options = { serverUrl: mcpUrl, fetchFn: backChannel, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}), ...(scope ? { scope } : {}) };
    if ((await auth(provider, options)) !== "REDIRECT") throw new Error("sdk: auth() did not redirect");
    if ((await auth(provider, { ...options, authorizationCode: await codeArrived })) !== "AUTHORIZED") throw new Error("sdk: auth() did not authorize");
    const retried = await fetch(mcpUrl, { method: "POST", headers: { ...headers, authorization: `Bearer ${tokens?.access_token ?? ""}` }, body });
    if (retried.status !== 200) throw new Error(`sdk: the MCP server answered ${retried.status}`);
    await retried.arrayBuffer();
  } finally {
    callback.closeAllConnections();
    callback.close();
    await agent.close();
  }
  return performance.now() - start;
}

export async function measureColdLogin(rounds: number): Promise<ColdLoginResult> {
  const server = await startOAuthProviderServer({ autoApprove: true, rateLimits: false });
  const ours: number[] = [];
  const sdk: number[] = [];
  const phases = new Map<string, number[]>();
  try {
    // Warm-up of both sides (JIT, module loading, the server's first requests).
    await oursOnce(server.mcpUrl);
    await sdkOnce(server.mcpUrl);
    for (let round = 0; round < rounds; round += 1) {
      const run = await oursOnce(server.mcpUrl);
      ours.push(run.totalMs);
      let previous = 0;
      for (const [name, at] of run.marks) {
        phases.set(name, [...(phases.get(name) ?? []), at - previous]);
        previous = at;
      }
      sdk.push(await sdkOnce(server.mcpUrl));
    }
  } finally {
    await server.close();
  }
  const oursMedianMs = median(ours);
  const sdkMedianMs = median(sdk);
  return { rounds, oursMedianMs, sdkMedianMs, ratio: oursMedianMs / sdkMedianMs, phases: [...phases].map(([name, times]) => [name, median(times)]) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
