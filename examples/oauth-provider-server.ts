/**
 * An MCP server that is its own authorization server: our `InMemoryOAuthProvider` serves the OAuth
 * endpoints and guards `/mcp`, where the MCP SDK's `McpServer` answers, all on plain `node:http`.
 * The demo and the server tests run it on 127.0.0.1 with an OS-picked port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  InMemoryOAuthProvider,
  nodeRequireBearer,
  toNodeListener,
  type InMemoryOAuthProviderOptions,
} from "../src/server/index.js";
import { createMcpServer } from "./mcp-tools.js";

export interface OAuthProviderServerOptions extends Omit<InMemoryOAuthProviderOptions, "baseUrl"> {
  /** Builds the provider from the options (baseUrl included), e.g. a `KeyvOAuthProvider`. Default: `InMemoryOAuthProvider`. */
  createProvider?: (options: InMemoryOAuthProviderOptions) => InMemoryOAuthProvider;
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
  readonly provider: InMemoryOAuthProvider;
  readonly requests: RecordedRequest[];
  count(match: string | ((request: RecordedRequest) => boolean)): number;
  close(): Promise<void>;
}

export async function startOAuthProviderServer(options: OAuthProviderServerOptions = {}): Promise<OAuthProviderServer> {
  const requests: RecordedRequest[] = [];
  let route: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.writeHead(503).end();
  const httpServer = createServer((req, res) => route(req, res));
  // Listen first: the issuer and every URL in the metadata depend on the OS-picked port.
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(0, "127.0.0.1", () => resolve());
  });
  const origin = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const { createProvider = (o: InMemoryOAuthProviderOptions) => new InMemoryOAuthProvider(o), ...providerOptions } = options;
  const provider = createProvider({ clientRegistration: { enabled: true }, revocation: { enabled: true }, ...providerOptions, baseUrl: origin });
  const oauthRoutes = toNodeListener(async (request) => {
    requests.push(await record(request));
    return provider.handle(request);
  });
  const guard = nodeRequireBearer(provider);

  route = (req, res) => {
    const url = new URL(req.url ?? "/", origin);
    if (provider.matches(url)) return oauthRoutes(req, res);
    requests.push({ method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams), form: {}, authorization: req.headers.authorization });
    if (url.pathname !== "/mcp") return void res.writeHead(404).end();
    guard(req, res, (error) => {
      if (error) return void res.writeHead(500).end();
      void handleMcp(req, res);
    });
  };

  let closing: Promise<void> | undefined;
  return {
    mcpUrl: `${origin}/mcp`,
    origin,
    issuer: provider.issuer,
    provider,
    requests,
    count: (match) => requests.filter(typeof match === "string" ? (r) => r.path === match : match).length,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        httpServer.close((error) => (error ? reject(error) : resolve()));
        httpServer.closeAllConnections();
      })),
  };
}

/** Stateless Streamable HTTP: a fresh server and transport per request, as in the SDK's stateless example. */
async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end();
  const server = createMcpServer();
  const transport = new StreamableHTTPServerTransport({});
  res.on("close", () => {
    void transport.close();
    void server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res);
  } catch {
    if (!res.headersSent) res.writeHead(500).end();
  }
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
