/**
 * `toOAuthError` turns what oauth4webapi, `fetch`, an `AbortSignal` and the back channel throw into
 * `OAuthError`s: the right code, `status`, `oauthError` and `transient`; a message that names the step and
 * what the server said (its status, error code and description) with any secret the request carried
 * replaced by "[redacted]"; and a cause that keeps the foreign error's name, message and code but nothing
 * it carried (response bodies, callback parameters, challenges).
 *
 * The foreign errors are the real ones: oauth4webapi's own processing functions on crafted `Response`s and
 * callback parameters, `fetch` to a closed or silent loopback port, aborted and timed-out signals, and an
 * oversized body read through the back channel. A few shapes no library here produces today (a
 * `fetch failed` without a cause code, a token-type error without a body) are built by hand, because
 * other `fetch` implementations and other oauth4webapi versions may produce them.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { inspect } from "node:util";
import {
  processAuthorizationCodeResponse,
  processDynamicClientRegistrationResponse,
  processRefreshTokenResponse,
  UnsupportedOperationError,
  validateAuthResponse,
  type AuthorizationServer,
  type Client,
} from "oauth4webapi";
import { afterEach, describe, expect, it } from "vitest";
import { createBackChannelFetch } from "../src/shared/back-channel.js";
import { OAuthError } from "../src/shared/errors.js";
import { asOAuthError, toOAuthError } from "../src/shared/map-error.js";

const as: AuthorizationServer = { issuer: "https://as.example", token_endpoint: "https://as.example/token" };
const client: Client = { client_id: "c1" };
const step = "exchanging the authorization code at https://as.example/token";

const CODE = "CODE-7d41e0b2";
const VERIFIER = "VERIFIER-0c93aa51";
const REFRESH = "RT-5be7f310";
const ACCESS = "AT-91c0d4e6";
const CLIENT_SECRET = "CS-e83b5a27";

/** A JSON response as a server sends it. */
function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** What `promise` rejects with; a promise that resolves fails the test. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${inspect(value)}`),
    (error: unknown) => error,
  );
}

/** What `action` throws; an action that returns fails the test. */
function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return expect.fail("expected a throw");
}

/** What oauth4webapi throws when processing `response` as a code exchange's answer. */
const fromTokenEndpoint = (response: Response) => rejection(processAuthorizationCodeResponse(as, client, response));

/** What a user could print: inspect at any depth (hidden properties too), then each link's String and JSON. */
function printed(error: unknown): string {
  const parts = [inspect(error, { depth: Infinity, showHidden: true })];
  for (let link: unknown = error, depth = 0; link instanceof Error && depth < 20; link = link.cause, depth += 1) {
    parts.push(String(link), link.stack ?? "", JSON.stringify(link));
  }
  return parts.join("\n");
}

/** The mapped error, checked to be an `OAuthError`. */
function mapped(error: unknown, code: Parameters<typeof toOAuthError>[1] = "token_exchange_failed", sent: (string | undefined)[] = []): OAuthError {
  const result = toOAuthError(error, code, step, sent);
  expect(result).toBeInstanceOf(OAuthError);
  return result;
}

/** The cause an `OAuthError` kept, with the `code` a scrubbed copy may carry. */
function causeOf(error: OAuthError): Error & { code?: unknown } {
  expect(error.cause).toBeInstanceOf(Error);
  return error.cause as Error & { code?: unknown };
}

describe("a server's OAuth error body (ResponseBodyError)", () => {
  it("names the step, the status, the error code and the description; keeps status and oauthError; the cause keeps no body", async () => {
    const foreign = await fromTokenEndpoint(json(400, { error: "invalid_grant", error_description: "the code has expired", access_token: ACCESS }));
    const error = mapped(foreign);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: server answered 400 invalid_grant: the code has expired`);
    expect(error.status).toBe(400);
    expect(error.oauthError).toBe("invalid_grant");
    expect(error.transient).toBe(false);
    const cause = causeOf(error);
    expect(cause.name).toBe("ResponseBodyError");
    expect(cause.code).toBe("OAUTH_RESPONSE_BODY_ERROR");
    expect(cause.message).toBe("server responded with an error in the response body");
    expect(cause.cause).toBeUndefined();
    expect(printed(error)).not.toContain(ACCESS);
  });

  it("without a description the message ends at the error code", async () => {
    const error = mapped(await fromTokenEndpoint(json(400, { error: "invalid_grant" })));
    expect(error.message).toBe(`${step}: server answered 400 invalid_grant`);
    expect(error.oauthError).toBe("invalid_grant");
  });

  // Transient means stored credentials are kept for a retry: a lasting refusal must not be transient.
  const transience: [number, string, boolean][] = [
    [400, "invalid_grant", false],
    [400, "temporarily_unavailable", true],
    [400, "server_error", true],
    [401, "invalid_client", false],
    [429, "slow_down", true],
  ];
  for (const [status, oauthError, transient] of transience) {
    it(`a ${status} ${oauthError} is ${transient ? "" : "not "}transient`, async () => {
      const error = mapped(await fromTokenEndpoint(json(status, { error: oauthError })));
      expect(error.status).toBe(status);
      expect(error.oauthError).toBe(oauthError);
      expect(error.transient).toBe(transient);
    });
  }
});

describe("a secret the request carried, echoed by the server", () => {
  it("is redacted from the cause chain too: a foreign error quoting the body it refused", () => {
    const error = toOAuthError(new Error(`proxy refused body code=${CODE}&code_verifier=${VERIFIER}`), "token_exchange_failed", step, [CODE, VERIFIER]);
    expect(error.message).toBe(`${step}: proxy refused body code=[redacted]&code_verifier=[redacted]`);
    expect((error.cause as Error).message).toBe("proxy refused body code=[redacted]&code_verifier=[redacted]");
    expect(printed(error)).not.toContain(CODE);
    expect(printed(error)).not.toContain(VERIFIER);
  });

  it("is redacted from a cause deeper in the chain when the message does not quote it", () => {
    const inner = Object.assign(new Error(`upstream refused body code=${CODE}`), { code: "EPROTO" });
    const error = toOAuthError(new TypeError("fetch failed", { cause: inner }), "token_exchange_failed", step, [CODE]);
    expect(error.message).toBe(`${step}: network error (EPROTO)`);
    expect(((error.cause as Error).cause as Error).message).toBe("upstream refused body code=[redacted]");
    expect(printed(error)).not.toContain(CODE);
  });

  it("is redacted in its form- and percent-encoded spellings too", () => {
    const secret = "s3cr+t/with=chars and space";
    const form = new URLSearchParams([["", secret]]).toString().slice(1);
    const error = toOAuthError(new Error(`echo: ${form} / ${encodeURIComponent(secret)} / ${secret}`), "token_exchange_failed", step, [secret]);
    expect(error.message).toBe(`${step}: echo: [redacted] / [redacted] / [redacted]`);
    expect(printed(error)).not.toContain(form);
    expect(printed(error)).not.toContain(encodeURIComponent(secret));
  });

  it("is replaced by [redacted] everywhere in the message; the rest of the description, status, oauthError and cause remain", async () => {
    const foreign = await fromTokenEndpoint(json(400, { error: "invalid_grant", error_description: `code ${CODE} was already used (code ${CODE}, verifier ${VERIFIER})` }));
    const error = mapped(foreign, "token_exchange_failed", [CODE, VERIFIER, undefined]);
    expect(error.message).toBe(`${step}: server answered 400 invalid_grant: code [redacted] was already used (code [redacted], verifier [redacted])`);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.status).toBe(400);
    expect(error.oauthError).toBe("invalid_grant");
    expect(error.transient).toBe(false);
    const cause = causeOf(error);
    expect(cause.name).toBe("ResponseBodyError");
    expect(cause.code).toBe("OAUTH_RESPONSE_BODY_ERROR");
    const text = printed(error);
    for (const secret of [CODE, VERIFIER]) expect(text).not.toContain(secret);
  });

  it("a refresh that the server puts off keeps transient after the refresh token is redacted", async () => {
    const foreign = await rejection(processRefreshTokenResponse(as, client, json(429, { error: "slow_down", error_description: `too many uses of ${REFRESH}` })));
    const error = toOAuthError(foreign, "refresh_failed", "refreshing the access token", [REFRESH, CLIENT_SECRET]);
    expect(error.message).toBe("refreshing the access token: server answered 429 slow_down: too many uses of [redacted]");
    expect(error.code).toBe("refresh_failed");
    expect(error.transient).toBe(true);
    expect(error.status).toBe(429);
    expect(error.oauthError).toBe("slow_down");
  });

  it("in a WWW-Authenticate challenge's description: redacted, the challenge's error code and the 401 kept", async () => {
    const challenge = `Bearer error="invalid_client", error_description="secret ${CLIENT_SECRET} is wrong"`;
    const foreign = await fromTokenEndpoint(new Response(null, { status: 401, headers: { "www-authenticate": challenge } }));
    const error = mapped(foreign, "token_exchange_failed", [CODE, CLIENT_SECRET]);
    expect(error.message).toBe(`${step}: server answered 401 invalid_client: secret [redacted] is wrong`);
    expect(error.status).toBe(401);
    expect(error.oauthError).toBe("invalid_client");
    expect(error.transient).toBe(false);
    expect(causeOf(error).name).toBe("WWWAuthenticateChallengeError");
    expect(printed(error)).not.toContain(CLIENT_SECRET);
  });

  it("a message with neither status nor oauthError stays without them after redaction", () => {
    const error = toOAuthError(new Error(`the store refused ${REFRESH}`), "storage_failed", "writing the tokens", [REFRESH]);
    expect(error.message).toBe("writing the tokens: the store refused [redacted]");
    expect(error.status).toBeUndefined();
    expect(error.oauthError).toBeUndefined();
  });

  it("an empty or missing secret redacts nothing (a public client has no secret)", async () => {
    const foreign = await fromTokenEndpoint(json(400, { error: "invalid_grant", error_description: "the code has expired" }));
    const error = mapped(foreign, "token_exchange_failed", ["", undefined]);
    expect(error.message).toBe(`${step}: server answered 400 invalid_grant: the code has expired`);
  });

  it("an OAuthError passes through as it is", () => {
    const original = new OAuthError("state_mismatch", "the callback's state did not match", { status: 302 });
    expect(toOAuthError(original, "token_exchange_failed", step, [CODE])).toBe(original);
  });
});

describe("a token type other than Bearer (UnsupportedOperationError)", () => {
  it("is unsupported_token_type, naming the type (a plain word) and keeping no token", async () => {
    const body = { access_token: ACCESS, refresh_token: REFRESH, token_type: "N_A.v-2", expires_in: 60 };
    const error = mapped(await fromTokenEndpoint(json(200, body)));
    expect(error.code).toBe("unsupported_token_type");
    // oauth4webapi lower-cases the type.
    expect(error.message).toBe(`${step}: the server issued a token of type n_a.v-2, not Bearer; it was not used`);
    expect(error.transient).toBe(false);
    expect(error.status).toBeUndefined();
    const cause = causeOf(error);
    expect(cause.name).toBe("UnsupportedOperationError");
    expect(cause.code).toBe("OAUTH_UNSUPPORTED_OPERATION");
    expect(cause).not.toHaveProperty("body");
    const text = printed(error);
    for (const secret of [ACCESS, REFRESH]) expect(text).not.toContain(secret);
  });

  it("a one-letter type is named too", async () => {
    const error = mapped(await fromTokenEndpoint(json(200, { access_token: ACCESS, token_type: "X" })));
    expect(error.message).toBe(`${step}: the server issued a token of type x, not Bearer; it was not used`);
  });

  // A type that is not one plain word of at most 32 characters may be anything the server chose to put there.
  for (const type of ["pop token", "a".repeat(33), `${ACCESS} <b>`, "<script>"]) {
    it(`a type that is not a plain word (${JSON.stringify(type.slice(0, 12))}) is not printed`, async () => {
      const error = mapped(await fromTokenEndpoint(json(200, { access_token: ACCESS, token_type: type })));
      expect(error.code).toBe("unsupported_token_type");
      expect(error.message).toBe(`${step}: the server issued a token of type, not Bearer; it was not used`);
      expect(printed(error)).not.toContain(ACCESS);
    });
  }

  // oauth4webapi attaches the body today; the mapping must not depend on that shape.
  it("without the body it is still unsupported_token_type, unnamed", () => {
    for (const foreign of [new UnsupportedOperationError("unsupported `token_type` value"), new UnsupportedOperationError("unsupported `token_type` value", { cause: {} })]) {
      const error = mapped(foreign);
      expect(error.code).toBe("unsupported_token_type");
      expect(error.message).toBe(`${step}: the server issued a token of type, not Bearer; it was not used`);
    }
  });

  it("another unsupported operation (an encrypted ID token) keeps the step's code, and not the token", async () => {
    const idToken = `${ACCESS}.b.c.d.e`;
    const error = mapped(await fromTokenEndpoint(json(200, { access_token: ACCESS, token_type: "Bearer", id_token: idToken })));
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: JWE decryption is not configured`);
    expect(causeOf(error).name).toBe("UnsupportedOperationError");
    expect(printed(error)).not.toContain(ACCESS);
  });
});

describe("an authorization response error (AuthorizationResponseError)", () => {
  const callbackStep = "the authorization server answered";
  const callback = (parameters: Record<string, string>) =>
    thrown(() => validateAuthResponse(as, client, new URLSearchParams({ state: "S-1", code: CODE, ...parameters }), "S-1"));

  it("access_denied keeps its own code; no description, no colon", () => {
    const error = toOAuthError(callback({ error: "access_denied" }), "authorization_failed", callbackStep);
    expect(error.code).toBe("access_denied");
    expect(error.message).toBe(`${callbackStep}: access_denied`);
    expect(error.oauthError).toBe("access_denied");
    expect(error.transient).toBe(false);
    const cause = causeOf(error);
    expect(cause.name).toBe("AuthorizationResponseError");
    expect(cause.code).toBe("OAUTH_AUTHORIZATION_RESPONSE_ERROR");
    expect(printed(error)).not.toContain(CODE);
  });

  it("another error takes the step's code, with the description", () => {
    const error = toOAuthError(callback({ error: "invalid_scope", error_description: "scope x is unknown" }), "authorization_failed", callbackStep);
    expect(error.code).toBe("authorization_failed");
    expect(error.message).toBe(`${callbackStep}: invalid_scope: scope x is unknown`);
    expect(error.oauthError).toBe("invalid_scope");
  });
});

describe("a response oauth4webapi refuses (OperationProcessingError)", () => {
  it("an unexpected 5xx names its status and is transient", async () => {
    const error = mapped(await fromTokenEndpoint(new Response(`<html>${ACCESS}</html>`, { status: 502, headers: { "content-type": "text/html" } })));
    expect(error.message).toBe(`${step}: "response" is not a conform Token Endpoint response (unexpected HTTP status code) (HTTP 502)`);
    expect(error.status).toBe(502);
    expect(error.transient).toBe(true);
    const cause = causeOf(error);
    expect(cause.name).toBe("OperationProcessingError");
    expect(cause.code).toBe("OAUTH_RESPONSE_IS_NOT_CONFORM");
    expect(printed(error)).not.toContain(ACCESS);
  });

  it("an unexpected 4xx without an OAuth error body names its status and is not transient", async () => {
    const error = mapped(await rejection(processDynamicClientRegistrationResponse(json(404, { detail: "no such endpoint" }))), "registration_failed");
    expect(error.code).toBe("registration_failed");
    expect(error.message).toBe(`${step}: "response" is not a conform Dynamic Client Registration Endpoint response (unexpected HTTP status code) (HTTP 404)`);
    expect(error.status).toBe(404);
    expect(error.transient).toBe(false);
  });

  it("a body that is not JSON: no status (the cause is not a response), not transient, the parser's message and the body dropped", async () => {
    const error = mapped(await fromTokenEndpoint(new Response(`{"access_token":"${ACCESS}",`, { status: 200, headers: { "content-type": "application/json" } })));
    expect(error.message).toBe(`${step}: failed to parse "response" body as JSON`);
    expect(error.status).toBeUndefined();
    expect(error.transient).toBe(false);
    const cause = causeOf(error);
    expect(cause.name).toBe("OperationProcessingError");
    expect(cause.code).toBe("OAUTH_PARSE_ERROR");
    expect(cause.cause).toBeUndefined();
    expect(printed(error)).not.toContain(ACCESS);
  });

  it("a malformed field: the message names the field, not its neighbours' values", async () => {
    const error = mapped(await fromTokenEndpoint(json(200, { access_token: 42, refresh_token: REFRESH, token_type: "Bearer" })));
    expect(error.message).toBe(`${step}: "response" body "access_token" property must be a string`);
    expect(error.status).toBeUndefined();
    expect(printed(error)).not.toContain(REFRESH);
  });
});

describe("a challenge in WWW-Authenticate (WWWAuthenticateChallengeError)", () => {
  const challenged = (status: number, header: string) => fromTokenEndpoint(new Response(null, { status, headers: { "www-authenticate": header } }));

  it("takes the error code and description from whichever challenge carries them", async () => {
    const error = mapped(await challenged(401, `Basic realm="as", Bearer error="invalid_client", error_description="unknown client"`));
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: server answered 401 invalid_client: unknown client`);
    expect(error.status).toBe(401);
    expect(error.oauthError).toBe("invalid_client");
    expect(error.transient).toBe(false);
    const cause = causeOf(error);
    expect(cause.name).toBe("WWWAuthenticateChallengeError");
    expect(cause.code).toBe("OAUTH_WWW_AUTHENTICATE_CHALLENGE");
    expect(cause.cause).toBeUndefined();
  });

  it("a challenge without an error code: only the status", async () => {
    const error = mapped(await challenged(401, `Basic realm="as"`));
    expect(error.message).toBe(`${step}: server answered 401`);
    expect(error.status).toBe(401);
    expect(error.oauthError).toBeUndefined();
    expect(error).toHaveProperty("oauthError", undefined);
  });

  it("an error code without a description", async () => {
    const error = mapped(await challenged(401, `Bearer error="invalid_token"`));
    expect(error.message).toBe(`${step}: server answered 401 invalid_token`);
    expect(error.oauthError).toBe("invalid_token");
  });

  it("a challenge on a 503 is transient", async () => {
    const error = mapped(await challenged(503, `Bearer error="temporarily_unavailable"`));
    expect(error.status).toBe(503);
    expect(error.transient).toBe(true);
  });
});

let servers: Server[] = [];
let sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  servers = [];
  sockets = [];
});

/** A loopback port that accepts connections and never answers. */
async function silentPort(): Promise<number> {
  const server = createServer((socket) => void sockets.push(socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** A loopback port nothing listens on: it was listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * What `fetch` throws when a loopback port refuses the connection. Another process may take the freed port
 * in between (the machine runs other tests): then a fresh port is tried, at most 5 times.
 */
async function refusedFetch(): Promise<unknown> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const url = `http://127.0.0.1:${await closedPort()}/token`;
    const failure = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      async (response) => void (await response.body?.cancel()),
      (error: unknown) => error,
    );
    if (failure instanceof TypeError && (failure.cause as { code?: unknown } | undefined)?.code === "ECONNREFUSED") return failure;
  }
  return expect.fail("no freed loopback port refused a connection in 5 tries");
}

describe("transport failures", () => {
  it("a connection refused: a transient network error naming the cause's code", async () => {
    const foreign = await refusedFetch();
    const error = mapped(foreign);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: network error (ECONNREFUSED)`);
    expect(error.transient).toBe(true);
    const cause = causeOf(error);
    expect(cause.name).toBe("TypeError");
    expect(cause.message).toBe("fetch failed");
    expect((cause.cause as Error & { code?: unknown }).code).toBe("ECONNREFUSED");
  });

  it("a fetch failure whose cause has no string code names the cause's message, or nothing", () => {
    const numbered = Object.assign(new Error("socket closed"), { code: 7 });
    expect(mapped(new TypeError("fetch failed", { cause: numbered })).message).toBe(`${step}: network error (socket closed)`);
    expect(mapped(new TypeError("fetch failed", { cause: new Error("other side hung up") })).message).toBe(`${step}: network error (other side hung up)`);
    for (const cause of [undefined, null, "socket closed", 7]) {
      const error = mapped(new TypeError("fetch failed", { cause }));
      expect(error.message).toBe(`${step}: network error`);
      expect(error.transient).toBe(true);
    }
  });

  it("another TypeError is not a network error: not transient, its own message", async () => {
    const foreign = await rejection(fetch("http://exa mple/token"));
    expect(foreign).toBeInstanceOf(TypeError);
    const error = mapped(foreign);
    expect(error.message).toBe(`${step}: ${(foreign as Error).message}`);
    expect(error.message).not.toContain("network error");
    expect(error.transient).toBe(false);
  });

  it("a timeout: the step's code, 'timed out', transient", async () => {
    const foreign = await rejection(fetch(`http://127.0.0.1:${await silentPort()}/token`, { signal: AbortSignal.timeout(50) }));
    const error = mapped(foreign);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: timed out`);
    expect(error.transient).toBe(true);
    expect(causeOf(error).name).toBe("TimeoutError");
  });

  it("an abort: code aborted, 'aborted', not transient", async () => {
    const controller = new AbortController();
    const pending = rejection(fetch(`http://127.0.0.1:${await silentPort()}/token`, { signal: controller.signal }));
    controller.abort();
    const error = mapped(await pending);
    expect(error.code).toBe("aborted");
    expect(error.message).toBe(`${step}: aborted`);
    expect(error.transient).toBe(false);
    expect(causeOf(error).name).toBe("AbortError");
  });

  it("another DOMException is neither a timeout nor an abort", () => {
    const foreign = thrown(() => atob("*"));
    expect(foreign).toBeInstanceOf(DOMException);
    const error = mapped(foreign);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: ${(foreign as Error).message}`);
    expect(error.transient).toBe(false);
  });

  it("a body over the back channel's limit: the step's code, the limit, not transient", async () => {
    const server = createHttpServer((_request, response) => response.writeHead(200, { "content-type": "application/json" }).end("x".repeat(4096)));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const limited = createBackChannelFetch(fetch, { timeoutMs: 5_000, maxResponseBytes: 1024 });
    const error = mapped(await rejection(limited(`${origin}/token`)));
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`${step}: response from ${origin} is larger than 1024 bytes`);
    expect(error.transient).toBe(false);
    expect(causeOf(error).name).toBe("ResponseTooLargeError");
  });
});

describe("anything else", () => {
  it("an Error: the step's code, its message, kept as cause", () => {
    const error = mapped(new RangeError("the clock went backwards"), "refresh_failed");
    expect(error.code).toBe("refresh_failed");
    expect(error.message).toBe(`${step}: the clock went backwards`);
    expect(error.transient).toBe(false);
    expect(causeOf(error).name).toBe("RangeError");
  });

  it("a thrown value that is not an Error: its text, no cause", () => {
    const error = mapped("plain failure");
    expect(error.message).toBe(`${step}: plain failure`);
    expect(error.cause).toBeUndefined();
  });

  it("asOAuthError names only the error's kind and keeps an OAuthError as it is", () => {
    const error = asOAuthError(new TypeError(`read ${ACCESS}`), "getAccessToken");
    expect(error.code).toBe("internal_error");
    expect(error.message).toBe("getAccessToken failed unexpectedly (TypeError; see cause)");
    const original = new OAuthError("aborted", "x");
    expect(asOAuthError(original, "getAccessToken")).toBe(original);
  });
});
