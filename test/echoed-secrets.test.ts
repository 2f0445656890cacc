/**
 * A token endpoint that echoes a secret the request carried (the authorization code, the client secret,
 * the refresh token) in its `error_description`: through the whole client, the error the caller gets has
 * "[redacted]" in its place and keeps everything else it needs: the step, the status, the server's error
 * code and the rest of its description, `transient`. (test/error-secrets.test.ts proves the secret is
 * absent; an empty message would pass that too.)
 */
import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError } from "../src/index.js";
import { good, hostileServer, SECRET, type HostileAnswers, type HostileServer } from "./support/hostile-server.js";

let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The error `getAccessToken` ends with; with `refreshFirst`, a first login, then a call once its token expired. */
async function failure(answers: HostileAnswers, refreshFirst: boolean): Promise<OAuthError> {
  server = await hostileServer(answers);
  const clock = { now: Date.now() };
  const oauth = new OAuth({
    mcpUrl: server.mcpUrl,
    tokenStorage: new Keyv(),
    logger: { warn: () => undefined },
    now: () => clock.now,
    callbackTimeoutMs: 5_000,
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
  });
  if (refreshFirst) {
    await oauth.getAccessToken();
    clock.now += 10_000; // the first token lived 1 s: the next call refreshes
  }
  const error = await oauth.getAccessToken().then(
    () => expect.fail("getAccessToken succeeded"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

describe("a secret echoed in a token endpoint's error is redacted, the rest kept", () => {
  it("the authorization code, in the code exchange's answer", async () => {
    const error = await failure({ token: { status: 400, body: { error: "invalid_grant", error_description: `code ${SECRET.code} has expired` } } }, false);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`exchanging the authorization code at ${server?.origin}/token: server answered 400 invalid_grant: code [redacted] has expired`);
    expect(error.status).toBe(400);
    expect(error.oauthError).toBe("invalid_grant");
    expect(error.transient).toBe(false);
  });

  it("the client secret, in a 401 (met again after registering anew)", async () => {
    const refusal = { status: 401, body: { error: "invalid_client", error_description: `secret ${SECRET.client} is not ours` } };
    const error = await failure({ token: refusal, later: refusal }, false);
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toBe(`exchanging the authorization code at ${server?.origin}/token: server answered 401 invalid_client: secret [redacted] is not ours`);
    expect(error.status).toBe(401);
    expect(error.oauthError).toBe("invalid_client");
  });

  it("the refresh token, in a refusal that asks to come back later: still transient", async () => {
    const error = await failure({ later: { status: 400, body: { error: "temporarily_unavailable", error_description: `${good.refresh_token} is busy` } } }, true);
    expect(error.code).toBe("refresh_failed");
    expect(error.message).toBe(`refreshing the access token at ${server?.origin}/token: server answered 400 temporarily_unavailable: [redacted] is busy`);
    expect(error.transient).toBe(true);
    expect(error.status).toBe(400);
    expect(error.oauthError).toBe("temporarily_unavailable");
  });
});
