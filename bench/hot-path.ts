/**
 * The hot path, with a valid cached token: `oauth.fetch` against a plain fetch with a static bearer
 * header (both on undici's fetch), and `oauth.interceptor()` against undici's `request` with the same
 * static header, on one loopback keep-alive server, measured request by request in alternating blocks
 * (so drift hits both alike). Reported: medians and their ratio, per pair.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, fetch as undiciFetch, request } from "undici";
import { OAuth, type TokenStorage } from "../src/index.js";
import { TokenStore } from "../src/store/token-store.js";

export interface HotPathResult {
  requests: number;
  plainMedianUs: number;
  oauthMedianUs: number;
  ratio: number;
}

const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const reply = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [] } });

export async function startLoopbackServer(): Promise<{ mcpUrl: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) }).end(reply));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const mcpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return {
    mcpUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What an earlier process left in the store: discovery results and an access token valid for an hour. */
export async function seedStore(storage: TokenStorage, mcpUrl: string): Promise<void> {
  const issuer = new URL("/", mcpUrl).href;
  const store = new TokenStore(storage, mcpUrl, console);
  await store.setDiscovery({ resource: mcpUrl, authorizationServer: { issuer, token_endpoint: `${issuer}token` }, legacy: false, discoveredAt: Date.now() });
  await store.setTokens(issuer, { access_token: "cached-access-token", token_type: "Bearer", expires_at: Date.now() + 3_600_000, obtained_at: Date.now() });
}

export async function measureHotPath(storage: TokenStorage, requests: number, mcpUrl: string): Promise<{ fetch: HotPathResult; interceptor: HotPathResult; overNoop: HotPathResult }> {
  const dispatcher = new Agent({ keepAliveTimeout: 60_000, connections: 1 });
  const plainFetch = (input: string | URL | Request, init?: RequestInit) => undiciFetch(input as string, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
  await seedStore(storage, mcpUrl);
  const oauth = new OAuth({ mcpUrl, tokenStorage: storage, fetch: plainFetch, openBrowser: () => undefined, logger: { warn: () => undefined } });
  const staticHeaders = { ...headers, authorization: "Bearer cached-access-token" };
  const fetchPair = await alternate(
    requests,
    async () => {
      const response = await plainFetch(mcpUrl, { method: "POST", headers: staticHeaders, body });
      await response.arrayBuffer();
    },
    async () => {
      const response = await oauth.fetch(mcpUrl, { method: "POST", headers, body });
      await response.arrayBuffer();
    },
  );
  const intercepted = dispatcher.compose(oauth.interceptor());
  const interceptorPair = await alternate(
    requests,
    async () => {
      const response = await request(mcpUrl, { dispatcher, method: "POST", headers: staticHeaders, body });
      await response.body.arrayBuffer();
    },
    async () => {
      const response = await request(mcpUrl, { dispatcher: intercepted, method: "POST", headers, body });
      await response.body.arrayBuffer();
    },
  );
  // Any interceptor composed on an undici dispatcher pays undici's handler adapters (the caller's handler
  // wrapped into the new API, ours unwrapped back): a no-op interceptor shows that floor, and ours over it.
  const noop = dispatcher.compose((dispatch) => (options, handler) => dispatch(options, handler));
  const overNoop = await alternate(
    requests,
    async () => {
      const response = await request(mcpUrl, { dispatcher: noop, method: "POST", headers: staticHeaders, body });
      await response.body.arrayBuffer();
    },
    async () => {
      const response = await request(mcpUrl, { dispatcher: intercepted, method: "POST", headers, body });
      await response.body.arrayBuffer();
    },
  );
  await dispatcher.close();
  return { fetch: fetchPair, interceptor: interceptorPair, overNoop };
}

/** `plain` and `viaOAuth`, `requests` times each, in alternating blocks after a warm-up of each. */
async function alternate(requests: number, plain: () => Promise<void>, viaOAuth: () => Promise<void>): Promise<HotPathResult> {
  const plainTimes: number[] = [];
  const oauthTimes: number[] = [];
  const block = 500;
  const time = async (run: () => Promise<void>, into: number[] | undefined) => {
    for (let i = 0; i < block; i += 1) {
      const start = process.hrtime.bigint();
      await run();
      into?.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  };
  await time(viaOAuth, undefined); // warm-up: first load of the store, JIT, connection
  await time(plain, undefined);
  for (let done = 0; done < requests; done += block) {
    await time(plain, plainTimes);
    await time(viaOAuth, oauthTimes);
  }
  const plainMedianUs = median(plainTimes);
  const oauthMedianUs = median(oauthTimes);
  return { requests: plainTimes.length, plainMedianUs, oauthMedianUs, ratio: oauthMedianUs / plainMedianUs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
