/**
 * An MCP server that is its own authorization server: our `InMemoryOAuthProvider` serves the OAuth
 * endpoints and guards `/mcp`, where the MCP SDK's `McpServer` answers, all on plain `node:http`.
 * The demo and the server tests run it on 127.0.0.1 with an OS-picked port.
 */
import {
  InMemoryOAuthProvider,
  nodeRequireBearer,
  toNodeListener,
  type InMemoryOAuthProviderOptions,
  type OAuthProvider,
} from "../src/server/index.js";
import { listenThenMount } from "./listen-then-mount.js";
import { handleMcpRequest } from "./mcp-tools.js";

export interface OAuthProviderServerOptions extends Omit<InMemoryOAuthProviderOptions, "baseUrl"> {
  /** Builds the provider from the options (baseUrl included), e.g. a `StoreOAuthProvider`. Default: `InMemoryOAuthProvider`. */
  createProvider?: (options: InMemoryOAuthProviderOptions) => OAuthProvider;
}

/** One HTTP request as it reached the server. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** urlencoded body parameters (/token, /revoke, consent posts); empty otherwise. */
  form: Record<string, string>;
  authorization: string | undefined;
}

export interface OAuthProviderServer {
  /** `${origin}/mcp`, the protected resource. */
  readonly mcpUrl: string;
  readonly origin: string;
  readonly issuer: string;
  readonly provider: OAuthProvider;
  readonly requests: RecordedRequest[];
  count(match: string | ((request: RecordedRequest) => boolean)): number;
  close(): Promise<void>;
}

export async function startOAuthProviderServer(options: OAuthProviderServerOptions = {}): Promise<OAuthProviderServer> {
  const requests: RecordedRequest[] = [];
  const { createProvider = (o: InMemoryOAuthProviderOptions) => new InMemoryOAuthProvider(o), ...providerOptions } = options;
  let provider: OAuthProvider | undefined;
  const listening = await listenThenMount(0, (origin) => {
    const mounted = createProvider({ clientRegistration: { enabled: true }, revocation: { enabled: true }, ...providerOptions, baseUrl: origin });
    provider = mounted;
    const oauthRoutes = toNodeListener(
      async (request) => {
        requests.push(await record(request));
        return mounted.handle(request);
      },
      { origin },
    );
    const guard = nodeRequireBearer(mounted);
    return (req, res) => {
      const url = new URL(req.url ?? "/", origin);
      if (mounted.matches(url)) return oauthRoutes(req, res);
      requests.push({ method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams), form: {}, authorization: req.headers.authorization });
      if (url.pathname !== "/mcp") return void res.writeHead(404).end();
      guard(req, res, (error) => {
        if (error) return void res.writeHead(500).end();
        void handleMcpRequest(req, res);
      });
    };
  });
  return {
    ...listening,
    issuer: provider!.issuer,
    provider: provider!,
    requests,
    count: (match) => requests.filter(typeof match === "string" ? (r) => r.path === match : match).length,
  };
}

async function record(request: Request): Promise<RecordedRequest> {
  const url = new URL(request.url);
  const form = (request.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")
    ? Object.fromEntries(new URLSearchParams(await request.clone().text()))
    : {};
  return {
    method: request.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    form,
    authorization: request.headers.get("authorization") ?? undefined,
  };
}
