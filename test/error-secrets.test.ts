import { inspect } from "node:util";
import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError, type OAuthErrorCode } from "../src/index.js";
import { hostileServer, SECRET, type Answer, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

/** What a user could print: inspect with unlimited depth, JSON, String, each through the whole cause chain. */
function printed(error: unknown): string {
  const chain: string[] = [];
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 20; depth += 1) {
    chain.push(String(current), safeJson(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return [inspect(error, { depth: Infinity, showHidden: true }), ...chain].join("\n");
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch (error) {
    return String(error);
  }
}

let closing: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closing?.();
  closing = undefined;
});

async function failureOf(answers: Parameters<typeof hostileServer>[0], refreshFirst: boolean): Promise<{ error: unknown; server: HostileServer; logs: string[] }> {
  const server = await hostileServer(answers);
  closing = server.close;
  const logger = captureLogger();
  const clock = { now: Date.now() };
  const oauth = new OAuth({
    mcpUrl: server.mcpUrl,
    tokenStorage: new Keyv(),
    logger,
    now: () => clock.now,
    callbackTimeoutMs: 5_000,
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
  });
  if (refreshFirst) {
    await oauth.getAccessToken();
    clock.now += 10_000; // the good token (1 s) has expired: the next call refreshes
  }
  const error = await oauth.getAccessToken().catch((e: unknown) => e);
  return { error, server, logs: logger.lines };
}

const tokenCases: [string, Answer, OAuthErrorCode][] = [
  ["token_type N_A", { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "N_A", expires_in: 60 } }, "unsupported_token_type"],
  ["token_type DPoP", { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "DPoP", expires_in: 60 } }, "dpop_unsupported"],
  ["no token_type", { body: { access_token: SECRET.access, refresh_token: SECRET.refresh } }, "token_exchange_failed"],
  ["an access_token that is a number, beside a refresh token", { body: { access_token: 42, refresh_token: SECRET.refresh, token_type: "Bearer" } }, "token_exchange_failed"],
  ["a refresh_token that is a number", { body: { access_token: SECRET.access, refresh_token: 7, token_type: "Bearer" } }, "token_exchange_failed"],
  ["expires_in that is not a number", { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "Bearer", expires_in: "soon" } }, "token_exchange_failed"],
  ["a scope that is not a string", { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "Bearer", scope: ["a"] } }, "token_exchange_failed"],
  ["an id_token that is not a JWT", { body: { access_token: SECRET.access, token_type: "Bearer", id_token: SECRET.idToken } }, "token_exchange_failed"],
  ["broken JSON around the tokens", { body: `{"access_token":"${SECRET.access}","refresh_token":"${SECRET.refresh}",` }, "token_exchange_failed"],
  ["a form-encoded body", { body: `access_token=${SECRET.access}&refresh_token=${SECRET.refresh}`, type: "application/x-www-form-urlencoded" }, "token_exchange_failed"],
  ["an HTML page naming the tokens", { body: `<html>${SECRET.access} ${SECRET.refresh}</html>`, type: "text/html" }, "token_exchange_failed"],
  ["a JSON array", { body: [SECRET.access, SECRET.refresh] }, "token_exchange_failed"],
  ["a 400 with tokens beside the error", { status: 400, body: { error: "invalid_request", access_token: SECRET.access, refresh_token: SECRET.refresh } }, "token_exchange_failed"],
  ["a 500 with tokens in the body", { status: 500, body: { access_token: SECRET.access, refresh_token: SECRET.refresh } }, "token_exchange_failed"],
  ["a 401 echoing the code in error_description", { status: 401, body: { error: "invalid_client", error_description: `bad code ${SECRET.code}` } }, "token_exchange_failed"],
];

describe("no secret reaches an error, its cause chain or a log, whatever the server answers", () => {
  for (const [name, answer, code] of tokenCases) {
    it(`code exchange answered with ${name}: ${code}`, async () => {
      const { error, server, logs } = await failureOf({ token: answer, later: answer }, false);
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).code).toBe(code);
      const text = `${printed(error)}\n${logs.join("\n")}`;
      for (const secret of server.secrets) expect(text, `${secret} in:\n${text}`).not.toContain(secret);
    });
    it(`refresh (and the login after it) answered with ${name}`, async () => {
      const { error, server, logs } = await failureOf({ later: answer }, true);
      // A refresh that fails for good is followed by a login, whose code exchange meets the same answer.
      expect(error).toBeInstanceOf(OAuthError);
      expect(["refresh_failed", "token_exchange_failed", code]).toContain((error as OAuthError).code);
      const text = `${printed(error)}\n${logs.join("\n")}`;
      for (const secret of server.secrets) expect(text, `${secret} in:\n${text}`).not.toContain(secret);
    });
  }

  const registrationCases: [string, Answer][] = [
    ["no client_id beside a secret", { status: 201, body: { client_secret: SECRET.client, client_secret_expires_at: 0 } }],
    ["a client_id that is a number", { status: 201, body: { client_id: 5, client_secret: SECRET.client } }],
    ["a secret that is a number... and a real one in another field", { status: 201, body: { client_id: "c", client_secret: 9, registration_access_token: SECRET.client } }],
    ["broken JSON", { status: 201, body: `{"client_id":"c","client_secret":"${SECRET.client}",` }],
    ["a 400 with the secret beside the error", { status: 400, body: { error: "invalid_client_metadata", client_secret: SECRET.client } }],
    ["a 200 instead of 201", { status: 200, body: { client_id: "c", client_secret: SECRET.client, client_secret_expires_at: 0 } }],
  ];
  for (const [name, answer] of registrationCases) {
    it(`registration answered with ${name}: registration_failed`, async () => {
      const { error, server, logs } = await failureOf({ register: answer }, false);
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).code).toBe("registration_failed");
      const text = `${printed(error)}\n${logs.join("\n")}`;
      for (const secret of server.secrets) expect(text, `${secret} in:\n${text}`).not.toContain(secret);
    });
  }
});

describe("OAuthError keeps a scrubbed cause chain", () => {
  it("drops what foreign errors carry (bodies, commands) and JSON parser messages, keeping names, codes and frames", () => {
    let parseError: unknown;
    try {
      JSON.parse(`{"refresh_token":"${SECRET.refresh}",`);
    } catch (error) {
      parseError = error;
    }
    // As a Redis client reports a failed command, with its arguments, over a parse failure of a stored value.
    const storeError = Object.assign(new Error("command failed", { cause: parseError }), { code: "ERR", command: { name: "SET", args: ["k", SECRET.access] } });
    const bodyCause = Object.assign(new TypeError("bad response"), { body: { access_token: SECRET.access } });
    const error = new OAuthError("storage_failed", "writing the tokens failed", { cause: new Error("outer", { cause: storeError }) });
    const other = new OAuthError("token_exchange_failed", "x", { cause: bodyCause });
    const text = `${printed(error)}\n${printed(other)}`;
    for (const secret of [SECRET.access, SECRET.refresh]) expect(text).not.toContain(secret);
    const inner = (error.cause as Error).cause as Error & { code?: string };
    expect(inner.message).toBe("command failed");
    expect(inner.code).toBe("ERR");
    expect(inner.stack).toContain("error-secrets.test.ts");
    expect((inner.cause as Error).name).toBe("SyntaxError");
    expect(other.cause).toBeInstanceOf(Error);
    expect((other.cause as Error).name).toBe("TypeError");
  });

  it("keeps an OAuthError cause as it is, and drops a cause that is not an error", () => {
    const inner = new OAuthError("refresh_failed", "inner");
    expect(new OAuthError("unauthorized", "outer", { cause: inner }).cause).toBe(inner);
    expect(new OAuthError("unauthorized", "outer", { cause: { access_token: SECRET.access } }).cause).toBeUndefined();
  });
});
