import { Client as SdkClient } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { FetchLike } from "./shared/back-channel.js";
import { OAuthError } from "./shared/errors.js";
import { OAuth } from "./oauth.js";
import type { OAuthOptions } from "./options.js";
import { withBearer } from "./transport/bearer.js";

/** Options of `new Client()`: how it authenticates and which transport it speaks. All are optional. */
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
  /** The MCP server endpoint this client connects to. */
  readonly url: URL;
  /** The `OAuth` doing the authorization, when `auth` is `"oauth"` or an `OAuth`. */
  readonly oauth: OAuth | undefined;
  readonly #fetch: FetchLike;
  readonly #options: ClientOptions;
  #sdk: SdkClient | undefined;

  /**
   * Sets up the client; nothing is sent until {@link Client.connect}. With `auth: "oauth"` this creates the
   * `OAuth`, so an invalid `oauth` option throws `OAuthError` `invalid_options` here.
   */
  constructor(url: string | URL, options: ClientOptions = {}) {
    this.url = new URL(url);
    this.#options = options;
    const auth = options.auth;
    if (auth === "oauth") this.oauth = new OAuth({ ...options.oauth, mcpUrl: this.url });
    else if (auth instanceof OAuth) this.oauth = auth;
    const base = options.fetch ?? ((input, init) => fetch(input, init));
    this.#fetch = this.oauth?.fetch ?? (typeof auth === "string" && auth !== "oauth" ? staticBearer(this.url, auth, base) : base);
  }

  /** The connected SDK client. Throws `OAuthError` `invalid_options` before {@link Client.connect}. */
  get sdk(): SdkClient {
    if (!this.#sdk) throw new OAuthError("invalid_options", "the client is not connected; call connect() first");
    return this.#sdk;
  }

  /**
   * Connects and runs the MCP initialization, authorizing first when the server asks for it (with
   * `OAuth`, this is where a login may open the browser). With `transport: "auto"`, Streamable HTTP is
   * tried first and SSE only when that answers 4xx. Rejects with the `OAuthError` of a failed
   * authorization, or with the SDK's error when the server cannot be reached or refuses the connection.
   */
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

  /**
   * The server's tools (MCP `tools/list`), as the SDK's `listTools` returns them; arguments are passed on
   * to it. Throws `OAuthError` `invalid_options` before {@link Client.connect}.
   */
  listTools(...args: Parameters<SdkClient["listTools"]>): ReturnType<SdkClient["listTools"]> {
    return this.sdk.listTools(...args);
  }

  /**
   * Calls the tool `name` with `args` (MCP `tools/call`) and resolves to its result. A tool that fails
   * reports it in the result (`isError`); a protocol failure rejects with the SDK's error. Throws
   * `OAuthError` `invalid_options` before {@link Client.connect}.
   */
  callTool(name: string, args?: CallToolParams["arguments"]): ReturnType<SdkClient["callTool"]> {
    return this.sdk.callTool({ name, ...(args ? { arguments: args } : {}) });
  }

  /**
   * Closes the connection; {@link Client.connect} may be called again afterwards. Tokens stay in the
   * store (`oauth.logout()` removes them). Does nothing when not connected.
   */
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
    const headers = init?.headers ?? (input instanceof Request ? input.headers : undefined);
    return base(input, withBearer({ ...init, ...(headers === undefined ? {} : { headers }) }, token));
  };
}
