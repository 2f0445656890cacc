import { Client as SdkClient } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { FetchLike } from "./shared/back-channel.js";
import { OAuthError } from "./shared/errors.js";
import { OAuth } from "./oauth.js";
import type { OAuthOptions } from "./options.js";

export interface ClientOptions {
  /**
   * `"oauth"`: an `OAuth` with default options (plus `oauth`) for this URL; an `OAuth` instance: used as
   * is; any other string: a static bearer token sent to this server's origin. Default: no auth.
   */
  auth?: "oauth" | OAuth | (string & {});
  /** Options for the `OAuth` that `auth: "oauth"` creates (everything but `mcpUrl`). */
  oauth?: Omit<OAuthOptions, "mcpUrl">;
  /** Name and version announced to the server. Default `{ name: "mcp-oauth", version: "0.1.0" }`. */
  clientInfo?: { name: string; version: string };
  /** `"auto"` tries Streamable HTTP, then falls back to SSE when the server answers 4xx. Default `"auto"`. */
  transport?: "auto" | "streamable-http" | "sse";
  /** Underlying fetch when `auth` is not an `OAuth`. Default: global `fetch`. */
  fetch?: FetchLike;
}

type CallToolParams = Parameters<SdkClient["callTool"]>[0];

/**
 * A thin MCP client over the official SDK, so that `new Client(url, { auth: "oauth" })` is all it takes.
 * The SDK client is exposed as `sdk` for everything this wrapper does not forward.
 */
export class Client {
  readonly url: URL;
  /** The `OAuth` doing the authorization, when `auth` is `"oauth"` or an `OAuth`. */
  readonly oauth: OAuth | undefined;
  readonly #fetch: FetchLike;
  readonly #options: ClientOptions;
  #sdk: SdkClient | undefined;

  constructor(url: string | URL, options: ClientOptions = {}) {
    this.url = new URL(url);
    this.#options = options;
    const auth = options.auth;
    if (auth === "oauth") this.oauth = new OAuth({ ...options.oauth, mcpUrl: this.url });
    else if (auth instanceof OAuth) this.oauth = auth;
    const base = options.fetch ?? ((input, init) => fetch(input, init));
    this.#fetch = this.oauth?.fetch ?? (typeof auth === "string" && auth !== "oauth" ? staticBearer(this.url, auth, base) : base);
  }

  /** The connected SDK client. */
  get sdk(): SdkClient {
    if (!this.#sdk) throw new OAuthError("invalid_options", "the client is not connected; call connect() first");
    return this.#sdk;
  }

  async connect(): Promise<void> {
    const mode = this.#options.transport ?? "auto";
    if (mode !== "sse") {
      try {
        this.#sdk = await this.#connectWith(new StreamableHTTPClientTransport(this.url, { fetch: this.#fetch }));
        return;
      } catch (error) {
        const status = error instanceof StreamableHTTPError ? error.code : undefined;
        if (mode === "streamable-http" || status === undefined || status < 400 || status >= 500) throw error;
      }
    }
    this.#sdk = await this.#connectWith(new SSEClientTransport(this.url, { fetch: this.#fetch }));
  }

  listTools(...args: Parameters<SdkClient["listTools"]>): ReturnType<SdkClient["listTools"]> {
    return this.sdk.listTools(...args);
  }

  callTool(name: string, args?: CallToolParams["arguments"]): ReturnType<SdkClient["callTool"]> {
    return this.sdk.callTool({ name, ...(args ? { arguments: args } : {}) });
  }

  async close(): Promise<void> {
    await this.#sdk?.close();
    this.#sdk = undefined;
  }

  async #connectWith(transport: Transport): Promise<SdkClient> {
    const sdk = new SdkClient(this.#options.clientInfo ?? { name: "mcp-oauth", version: "0.1.0" });
    await sdk.connect(transport);
    return sdk;
  }
}

/** A fixed token, sent only to the MCP server's origin so it cannot leak through a cross-origin URL. */
function staticBearer(url: URL, token: string, base: FetchLike): FetchLike {
  return (input, init) => {
    const target = new URL(input instanceof Request ? input.url : input);
    if (target.origin !== url.origin) return base(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("authorization", `Bearer ${token}`);
    return base(input, { ...init, headers });
  };
}
