import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A hostile or broken authorization server on loopback, with an MCP endpoint that always answers 401,
 * whose registration and token answers are chosen per case. Its answers carry secrets (tokens, a client
 * secret) that must never surface in what the client reports: not in an error's message, its cause
 * chain, its stack, nor in a log line.
 */
export interface Answer {
  status?: number;
  /** A string is sent as is (with `type`); anything else as JSON. */
  body: unknown;
  type?: string;
  /** Extra response headers (`retry-after`, say). */
  headers?: Record<string, string>;
}

export interface HostileServer {
  origin: string;
  mcpUrl: string;
  /** Every string the server handed out or received as a secret: tokens, codes, verifiers, secrets. */
  secrets: Set<string>;
  /** Every request, in order. */
  seen: Seen[];
  /** Requests by path. */
  count(path: string): number;
  close(): Promise<void>;
}

export const SECRET = {
  access: "AT-SECRET-3f1c9a",
  refresh: "RT-SECRET-77d2e0",
  client: "CS-SECRET-0b8e41",
  code: "CODE-SECRET-5a6c",
  idToken: "ID-SECRET-e2f9",
};

export const good = { access_token: `${SECRET.access}-good`, refresh_token: `${SECRET.refresh}-good`, token_type: "Bearer", expires_in: 1 };

/** A request the server saw: its method, path, Authorization header and body. */
export interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

export interface HostileAnswers {
  /** Answers every registration; a list answers them in turn, then the built-in registration answers. */
  register?: Answer | Answer[];
  /** Answers the first token request; a list answers as many first token requests, in turn. */
  token?: Answer | Answer[];
  /**
   * Answers every token request after the first (the refresh, and a login after it); after a `token` list,
   * every one after it. A list answers them in turn, then the built-in good tokens answer.
   */
  later?: Answer | Answer[];
  /**
   * Answers every POST /revoke; with it, the metadata lists `revocation_endpoint` (without it, it does not).
   * `"hang"` never answers: the client's request timeout has to end the request.
   */
  revoke?: Answer | "hang";
  /** Other paths (the MCP server's own, say), answered before the built-in routes; a redirect is `{ status, location }`. */
  routes?: Record<string, Answer & { location?: string }>;
}

export async function hostileServer(answers: HostileAnswers): Promise<HostileServer> {
  const secrets = new Set<string>(Object.values(SECRET));
  let origin = "";
  let tokenRequests = 0;
  let registerRequests = 0;
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? "/", origin);
      const body = await bodyOf(request);
      seen.push({ method: request.method ?? "GET", path: url.pathname, authorization: request.headers.authorization, body });
      const send = (answer: Answer & { location?: string }) => {
        const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
        const location = answer.location === undefined ? {} : { location: answer.location };
        response.writeHead(answer.status ?? 200, { "content-type": answer.type ?? "application/json", "cache-control": "no-store", ...location, ...answer.headers }).end(text);
      };
      const form = (request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded") ? new URLSearchParams(body) : new URLSearchParams();
      const route = answers.routes?.[url.pathname];
      if (route) return send(route);
      for (const name of ["code", "code_verifier", "refresh_token", "client_secret", "token"]) {
        const value = form.get(name);
        if (value) secrets.add(value);
      }
      switch (url.pathname) {
        case "/.well-known/oauth-protected-resource/mcp":
          return send({ body: { resource: `${origin}/mcp`, authorization_servers: [origin] } });
        case "/.well-known/oauth-authorization-server":
          return send({
            body: {
              issuer: origin,
              authorization_endpoint: `${origin}/authorize`,
              token_endpoint: `${origin}/token`,
              registration_endpoint: `${origin}/register`,
              response_types_supported: ["code"],
              code_challenge_methods_supported: ["S256"],
              token_endpoint_auth_methods_supported: ["client_secret_basic"],
              ...(answers.revoke === undefined ? {} : { revocation_endpoint: `${origin}/revoke` }),
            },
          });
        case "/register":
          registerRequests += 1;
          return send(
            inTurn(answers.register, registerRequests) ?? { status: 201, body: { client_id: "c1", client_secret: SECRET.client, client_secret_expires_at: 0, redirect_uris: [] } },
          );
        case "/authorize": {
          const back = new URL(url.searchParams.get("redirect_uri") ?? "");
          back.searchParams.set("code", SECRET.code);
          back.searchParams.set("state", url.searchParams.get("state") ?? "");
          back.searchParams.set("iss", origin);
          return void response.writeHead(302, { location: back.href }).end();
        }
        case "/token": {
          tokenRequests += 1;
          // A single `token` answers the first request only (as it always did); a list, that many.
          const first = Array.isArray(answers.token) ? answers.token : [answers.token];
          const answer = tokenRequests <= first.length ? first[tokenRequests - 1] : inTurn(answers.later, tokenRequests - first.length);
          return send(answer ?? { body: good });
        }
        case "/revoke":
          if (answers.revoke === undefined) return void response.writeHead(404).end();
          if (answers.revoke === "hang") return;
          return send(answers.revoke);
        case "/mcp":
          return void response
            .writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` })
            .end();
        default:
          return void response.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    mcpUrl: `${origin}/mcp`,
    secrets,
    seen,
    count: (path) => seen.filter((r) => r.path === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The answer to the `n`th request (from 1): a single answer answers all, a list each in turn and then none. */
function inTurn(answer: Answer | Answer[] | undefined, n: number): Answer | undefined {
  return Array.isArray(answer) ? answer[n - 1] : answer;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text;
}

