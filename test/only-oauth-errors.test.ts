import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError } from "../src/index.js";
import { rpc } from "./support/harness.js";
import { hostileServer, type HostileServer } from "./support/hostile-server.js";

/** Only `OAuthError`s leave the library, whatever a callback or a store throws (the caller's own abort reason aside). */
let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const follow = async (url: string) => void (await fetch(url).then((page) => page.body?.cancel()));

async function failures(options: Partial<ConstructorParameters<typeof OAuth>[0]>): Promise<unknown[]> {
  server = await hostileServer({});
  const oauth = new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: new Keyv(), logger: { warn: () => undefined }, openBrowser: follow, ...options });
  return [await oauth.fetch(server.mcpUrl, rpc()).catch((e: unknown) => e), await oauth.getAccessToken().catch((e: unknown) => e)];
}

describe("only OAuthErrors leave the library", () => {
  const cases: [string, Partial<ConstructorParameters<typeof OAuth>[0]>][] = [
    ["an openBrowser that throws a TypeError", { openBrowser: () => Promise.reject(new TypeError("no display")) }],
    ["an onEvent that throws", { onEvent: () => { throw new RangeError("listener bug"); } }],
    ["a store whose value throws when read", { tokenStorage: { get: async () => ({ get stored_for(): never { throw new TypeError("poisoned"); } }), set: async () => true, delete: async () => true } }],
    ["an openBrowser that throws a string", { openBrowser: () => { throw "plain string"; } }],
  ];
  for (const [name, options] of cases) {
    it(`${name}: internal_error, its cause kept (scrubbed)`, async () => {
      for (const error of await failures(options)) {
        expect(error).toBeInstanceOf(OAuthError);
        expect((error as OAuthError).code).toBe("internal_error");
      }
    });
  }

  it("the cause names what happened", async () => {
    const [error] = await failures({ openBrowser: () => Promise.reject(new TypeError("no display")) });
    expect((error as OAuthError).message).toContain("TypeError");
    expect(((error as OAuthError).cause as Error).message).toBe("no display");
  });
});
