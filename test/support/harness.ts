import Keyv from "keyv";
import { startSdkAuthServer, type SdkAuthServer, type SdkAuthServerOptions } from "../peers/sdk-auth-server.js";
import { OAuth, type OAuthEvent, type OAuthOptions } from "../../src/index.js";
import { captureLogger, followRedirects } from "./openers.js";

/** A JSON-RPC call as the MCP SDK sends it; `tools/list` needs no session on the stateless peer. */
export function rpc(method = "tools/list"): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: {} }),
  };
}

/** The SDK peer alone, closed after the test by `closeLater`. */
export async function startPeer(closeLater: (close: () => Promise<unknown>) => void, options: SdkAuthServerOptions = {}): Promise<SdkAuthServer> {
  const server = await startSdkAuthServer(options);
  closeLater(server.close);
  return server;
}

export interface Harness {
  server: SdkAuthServer;
  oauth: OAuth;
  store: Keyv;
  events: OAuthEvent[];
  browser: ReturnType<typeof followRedirects>;
  logger: ReturnType<typeof captureLogger>;
  clock: { now: number };
  /** Another OAuth on the same store, as a restarted process would have. */
  restart(overrides?: Partial<OAuthOptions>): OAuth;
}

/** The SDK peer plus an `OAuth` aimed at it with an unattended browser, a controllable clock and captured output. */
export async function harness(serverOptions: SdkAuthServerOptions = {}, overrides: Partial<OAuthOptions> = {}): Promise<Harness> {
  const server = await startSdkAuthServer(serverOptions);
  const store = new Keyv();
  const events: OAuthEvent[] = [];
  const browser = followRedirects();
  const logger = captureLogger();
  const clock = { now: Date.now() };
  const make = (extra: Partial<OAuthOptions>) =>
    new OAuth({
      mcpUrl: server.mcpUrl,
      tokenStorage: store,
      openBrowser: browser.open,
      onEvent: (event) => events.push(event),
      logger,
      now: () => clock.now,
      callbackTimeoutMs: 10_000,
      ...overrides,
      ...extra,
    });
  return { server, store, events, browser, logger, clock, oauth: make({}), restart: make };
}
