/**
 * What the MCP TypeScript SDK's client peers (1.x `@modelcontextprotocol/sdk`, 2.x
 * `@modelcontextprotocol/client`) share: the `OAuthClientProvider` a CLI app writes for them (a JSON
 * state file, a loopback callback server, the browser), and the login loop their docs describe
 * (connect → UnauthorizedError → wait for the callback → `transport.finishAuth` → connect again).
 * Both SDKs declare the same provider methods and differ only in their credential and discovery types,
 * so the provider is generic over those and each peer instantiates it with its own SDK's types.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { InteropBrowser } from "../browser.js";
import type { ClientSession } from "../peer.js";

/** One session, from start to close (a login included), is bounded by this. */
export const sdkSessionTimeoutMs = 60_000;

const stateFileName = "sdk-oauth-state.json";
const callbackPath = "/callback";

/** What the provider keeps between sessions, as one JSON file in the session's stateDir. */
interface StateFile<ClientInfo, Tokens, Discovery> {
  /** The callback port, part of the registered redirect URI, so reused by every later session. */
  port?: number;
  clientInformation?: ClientInfo;
  tokens?: Tokens;
  codeVerifier?: string;
  state?: string;
  /** The discovery behind the login under way (2.x checks the callback leg against it, SEP-2352). */
  discoveryState?: Discovery;
}

/**
 * Registration metadata of a native public client (RFC 8252): loopback redirect, no secret, and the
 * refresh grant. No `scope`: which scope to ask for is left to the SDK's own selection.
 */
export interface NativeClientMetadata {
  client_name: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
}

/**
 * An `OAuthClientProvider` (1.x and 2.x alike) persisting to a JSON file, running its own loopback
 * callback server, and sending the user to the authorization URL through the interop browser.
 */
export class LoopbackOAuthProvider<ClientInfo, Tokens, Discovery> {
  private pendingCallback: { resolve: (params: URLSearchParams) => void; reject: (error: Error) => void } | undefined;
  private arrivedCallback: URLSearchParams | Error | undefined;

  readonly #file: string;
  readonly #stored: StateFile<ClientInfo, Tokens, Discovery>;
  readonly #server: Server;
  readonly #port: number;
  readonly #clientName: string;
  readonly #browser: InteropBrowser;

  private constructor(
    file: string,
    stored: StateFile<ClientInfo, Tokens, Discovery>,
    server: Server,
    port: number,
    clientName: string,
    browser: InteropBrowser,
  ) {
    this.#file = file;
    this.#stored = stored;
    this.#server = server;
    this.#port = port;
    this.#clientName = clientName;
    this.#browser = browser;
    server.on("request", (request, response) => {
      const url = new URL(request.url ?? "/", `http://127.0.0.1:${port}`);
      if (url.pathname !== callbackPath) return void response.writeHead(404).end();
      const outcome = this.checkCallback(url.searchParams);
      response.writeHead(outcome instanceof Error ? 400 : 200, { "content-type": "text/plain" }).end(outcome instanceof Error ? outcome.message : "Signed in; you can close this window.");
      this.deliver(outcome);
    });
  }

  /** Loads the state file (if any) and starts the callback server on its port (a new one at first). */
  static async open<ClientInfo, Tokens, Discovery>(stateDir: string, clientName: string, browser: InteropBrowser): Promise<LoopbackOAuthProvider<ClientInfo, Tokens, Discovery>> {
    await mkdir(stateDir, { recursive: true });
    const file = join(stateDir, stateFileName);
    const stored: StateFile<ClientInfo, Tokens, Discovery> = await readFile(file, "utf8").then(
      (text) => JSON.parse(text) as StateFile<ClientInfo, Tokens, Discovery>,
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return {};
        throw error;
      },
    );
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) =>
        reject(error.code === "EADDRINUSE" ? new Error(`callback port ${stored.port ?? "?"} (the registered redirect URI's) is taken`, { cause: error }) : error),
      );
      server.listen(stored.port ?? 0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const provider = new LoopbackOAuthProvider<ClientInfo, Tokens, Discovery>(file, stored, server, port, clientName, browser);
    if (stored.port !== port) {
      stored.port = port;
      await provider.save();
    }
    return provider;
  }

  get redirectUrl(): string {
    return `http://127.0.0.1:${this.#port}${callbackPath}`;
  }

  get clientMetadata(): NativeClientMetadata {
    return {
      client_name: this.#clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  /** A fresh `state` per authorization request, kept to check the callback against (the SDKs do not). */
  async state(): Promise<string> {
    this.#stored.state = randomBytes(16).toString("base64url");
    await this.save();
    return this.#stored.state;
  }

  clientInformation(): ClientInfo | undefined {
    return this.#stored.clientInformation;
  }

  async saveClientInformation(clientInformation: ClientInfo): Promise<void> {
    this.#stored.clientInformation = clientInformation;
    await this.save();
  }

  tokens(): Tokens | undefined {
    return this.#stored.tokens;
  }

  async saveTokens(tokens: Tokens): Promise<void> {
    this.#stored.tokens = tokens;
    await this.save();
  }

  /**
   * Hands the URL to the user's browser and returns at once, as opening a browser does; the SDK then
   * throws UnauthorizedError and the app waits for the callback. A walk that fails ends that wait.
   */
  redirectToAuthorization(authorizationUrl: URL): void {
    this.arrivedCallback = undefined;
    this.#browser.open(authorizationUrl.href).catch((error: unknown) => this.deliver(new Error(`the browser could not complete the authorization: ${String(error)}`)));
  }

  async saveCodeVerifier(codeVerifier: string): Promise<void> {
    this.#stored.codeVerifier = codeVerifier;
    await this.save();
  }

  codeVerifier(): string {
    if (!this.#stored.codeVerifier) throw new Error("no code verifier saved");
    return this.#stored.codeVerifier;
  }

  /**
   * The SDKs' discovery cache, kept with the code verifier as 2.x asks ("MUST persist with the same
   * durability as codeVerifier"): without it 2.x warns that it cannot bind the callback leg to the
   * authorization server the redirect went to.
   */
  async saveDiscoveryState(state: Discovery): Promise<void> {
    this.#stored.discoveryState = state;
    await this.save();
  }

  discoveryState(): Discovery | undefined {
    return this.#stored.discoveryState;
  }

  /** The SDKs call this when the server refused something stored (e.g. an unknown client or a dead refresh token). */
  async invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): Promise<void> {
    if (scope === "all" || scope === "client") delete this.#stored.clientInformation;
    if (scope === "all" || scope === "tokens") delete this.#stored.tokens;
    if (scope === "all" || scope === "verifier") delete this.#stored.codeVerifier;
    if (scope === "all" || scope === "discovery") delete this.#stored.discoveryState;
    await this.save();
  }

  /** The callback's query (code, state, iss), once the browser delivered it; bounded by `deadline`. */
  waitForCallback(deadline: number): Promise<URLSearchParams> {
    const arrived = this.arrivedCallback;
    this.arrivedCallback = undefined;
    if (arrived) return arrived instanceof Error ? Promise.reject(arrived) : Promise.resolve(arrived);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingCallback = undefined;
        reject(new Error(`no authorization callback on ${this.redirectUrl} within the session's ${sdkSessionTimeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      this.pendingCallback = {
        resolve: (params) => (clearTimeout(timer), resolve(params)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  private checkCallback(params: URLSearchParams): URLSearchParams | Error {
    const error = params.get("error");
    if (error) return new Error(`the authorization server answered ${error}: ${params.get("error_description") ?? ""}`);
    if (!params.get("code")) return new Error("callback without a code");
    if (params.get("state") !== this.#stored.state) return new Error(`callback state ${params.get("state") ?? "(none)"} is not the one sent`);
    return params;
  }

  private deliver(outcome: URLSearchParams | Error): void {
    const pending = this.pendingCallback;
    this.pendingCallback = undefined;
    if (!pending) this.arrivedCallback = outcome;
    else if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  /** Written whole through a temporary file, so a killed session never leaves half a state file. */
  private async save(): Promise<void> {
    const temporary = `${this.#file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(this.#stored, null, 2), { mode: 0o600 });
    await rename(temporary, this.#file);
  }
}

/** A connected MCP client, reduced to what the scenario does with it. */
export interface SdkConnection {
  add(a: number, b: number): Promise<string>;
  close(): Promise<void>;
}

/** One `connect` on a new transport: connected, or refused with UnauthorizedError after the SDK sent the user to log in. */
export type SdkConnectAttempt =
  | { connected: SdkConnection }
  /** Completes the login on the transport that threw (its `finishAuth`), given the callback's query. */
  | { finishAuth: (callback: URLSearchParams) => Promise<void> };

/**
 * The SDK-documented CLI login loop around `connect`, then the scenario's calls, in one connected
 * client; every wait is bounded by the session's deadline.
 */
export async function runSdkSession<ClientInfo, Tokens, Discovery>(
  session: ClientSession,
  clientName: string,
  connect: (provider: LoopbackOAuthProvider<ClientInfo, Tokens, Discovery>) => Promise<SdkConnectAttempt>,
): Promise<string[]> {
  const deadline = Date.now() + sdkSessionTimeoutMs;
  const provider = await LoopbackOAuthProvider.open<ClientInfo, Tokens, Discovery>(session.stateDir, clientName, session.browser);
  let connection: SdkConnection | undefined;
  try {
    return await withDeadline(
      (async () => {
        let attempt = await connect(provider);
        // One login per session at most: a second UnauthorizedError right after one is a failure, not a loop.
        if ("finishAuth" in attempt) {
          await attempt.finishAuth(await provider.waitForCallback(deadline));
          attempt = await connect(provider);
          if ("finishAuth" in attempt) throw new Error("still unauthorized after completing the login");
        }
        connection = attempt.connected;
        const texts: string[] = [];
        for (const call of session.calls) {
          await new Promise((resolve) => setTimeout(resolve, call.waitBeforeMs));
          texts.push(await connection.add(call.a, call.b));
        }
        return texts;
      })(),
      deadline,
    );
  } finally {
    await withDeadline(connection?.close() ?? Promise.resolve(), Date.now() + 5_000).catch(() => {});
    await provider.close();
  }
}

/** The text of an `add` result (`{ content: [{ type: "text", text }] }`), or an error saying what came instead. */
export function toolResultText(result: unknown): string {
  const { content, isError } = (result ?? {}) as { content?: unknown; isError?: unknown };
  const first: unknown = Array.isArray(content) ? content[0] : undefined;
  const text = typeof first === "object" && first !== null && "text" in first ? first.text : undefined;
  if (isError === true || typeof text !== "string") throw new Error(`tools/call add answered ${JSON.stringify(result)}`);
  return text;
}

function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the session did not finish within ${sdkSessionTimeoutMs} ms`)), Math.max(0, deadline - Date.now()));
    }),
  ]).finally(() => clearTimeout(timer));
}
