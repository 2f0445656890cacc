import { afterEach, describe, expect, it } from "vitest";
import { OAuthError, type OAuthEvent } from "../src/index.js";
import { harness, rpc, type Harness } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

/** Every string a user could see: messages and causes of errors, warnings, events. */
function visibleText(errors: unknown[], logs: string[], events: OAuthEvent[]): string {
  const describe = (error: unknown): string => {
    if (!(error instanceof Error)) return String(error);
    return `${error.name} ${error.message} ${error.stack ?? ""} ${JSON.stringify(error)} ${error.cause ? describe(error.cause) : ""}`;
  };
  return [...errors.map(describe), ...logs, JSON.stringify(events)].join("\n");
}

describe("no secret reaches an error, a log line or an event", () => {
  it("across a login, a refresh, a failed refresh and a denied authorization", async () => {
    h = await harness();
    const errors: unknown[] = [];
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    h.clock.now += 3_600_000;
    await h.oauth.fetch(h.server.mcpUrl, rpc()); // refresh
    h.server.faults.refresh = "server_error";
    h.clock.now += 3_600_000;
    errors.push(await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e));
    h.server.faults.refresh = "invalid_grant";
    h.server.faults.authorizeError = { error: "access_denied" };
    errors.push(await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e));
    expect(errors.every((e) => e instanceof OAuthError)).toBe(true);

    const secrets = h.server.tokensIssued();
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const codes = h.server.requests.filter((r) => r.form.code).map((r) => r.form.code as string);
    const verifiers = h.server.requests.filter((r) => r.form.code_verifier).map((r) => r.form.code_verifier as string);
    const text = visibleText(errors, h.logger.lines, h.events);
    for (const secret of [...secrets, ...codes, ...verifiers]) expect(text).not.toContain(secret);
  });
});
