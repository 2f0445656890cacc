/**
 * `npm run test:interop`: every client with every server, each cell a real login (discovery,
 * registration, the browser step played by test/interop/browser.ts, the loopback callback, the code
 * exchange), a tool call, a refresh once the access token expired, and a second client instance on the
 * same persistent store that calls again without a new login. The table in docs/interop.md is written
 * from this run (see ./report.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrowser } from "./browser.js";
import { fastmcpClient } from "./clients/fastmcp.js";
import { mcpOAuthClient } from "./clients/mcp-oauth.js";
import { mcpRemoteClient } from "./clients/mcp-remote.js";
import { mcpSdkV1Client } from "./clients/mcp-sdk-v1.js";
import { mcpSdkV2Client } from "./clients/mcp-sdk-v2.js";
import { knownRed, redCells } from "./known-red.js";
import type { ClientPeer, RunningServer, ServerPeer } from "./peer.js";
import { writeReport, type CellResult } from "./report.js";
import { fastmcpServer } from "./servers/fastmcp.js";
import { mcpOAuthRedisServer, mcpOAuthServer } from "./servers/mcp-oauth.js";
import { mcpSdkServer } from "./servers/mcp-sdk.js";
import { oidcProviderServer } from "./servers/oidc-provider.js";

const clients: ClientPeer[] = [mcpOAuthClient, mcpSdkV1Client, mcpSdkV2Client, fastmcpClient, mcpRemoteClient];
const servers: ServerPeer[] = [
  mcpOAuthServer("mcp-oauth InMemoryOAuthProvider (defaults)", {}),
  mcpOAuthServer("mcp-oauth InMemoryOAuthProvider (validScopes)", { clientRegistration: { enabled: true, validScopes: ["mcp:tools"] }, requiredScopes: ["mcp:tools"] }),
  mcpOAuthRedisServer("mcp-oauth StoreOAuthProvider (Redis)"),
  mcpSdkServer,
  fastmcpServer("FastMCP InMemoryOAuthProvider (defaults)", {}),
  fastmcpServer("FastMCP InMemoryOAuthProvider (required_scopes, revocation)", { requiredScopes: ["mcp:tools"], revocation: true }),
  oidcProviderServer,
];

const results: CellResult[] = [];

beforeAll(async () => {
  // A peer that cannot run here fails the whole suite: a skipped cell would look like a green one.
  for (const client of clients) await client.check?.();
});

afterAll(async () => {
  await writeReport({ clients: clients.map((c) => c.name), servers: servers.map((s) => s.name), results });
});

it("every red mark names a cell of the matrix", () => {
  const cellKeys = clients.flatMap((client) => servers.map((server) => `${client.name} | ${server.name}`));
  expect(Object.keys(redCells).filter((key) => !cellKeys.includes(key))).toEqual([]);
});

describe.each(servers)("$name", (serverPeer) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serverPeer.start();
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const client of clients) {
    const red = knownRed(client.name, serverPeer.name);
    const title = red ? `${client.name} (red: ${red.reason})` : client.name;
    (red ? it.fails : it)(title, async () => {
      const started = Date.now();
      const step = { name: "login" };
      try {
        await runCell(server, client, step);
        results.push({ client: client.name, server: serverPeer.name, passed: true, ms: Date.now() - started });
      } catch (error) {
        results.push({ client: client.name, server: serverPeer.name, passed: false, ms: Date.now() - started, step: step.name, error: String(error), ...(red ? { red } : {}) });
        throw error;
      }
    });
  }
});

async function runCell(server: RunningServer, client: ClientPeer, step: { name: string }): Promise<void> {
  const browser = await startBrowser();
  const stateDir = await mkdtemp(join(tmpdir(), "mcp-oauth-interop-"));
  try {
    const before = await server.grants();
    const logins = async () => (await server.grants()).authorization_code - before.authorization_code;
    const walkFailures = () => (browser.failures.length > 0 ? ` (browser: ${browser.failures.join("; ")})` : "");

    const first = await client
      .session({
        mcpUrl: server.mcpUrl,
        stateDir,
        browser,
        calls: [
          { a: 2, b: 3, waitBeforeMs: 0 },
          // Past the access token's life: the next call needs a refresh.
          { a: 1, b: 1, waitBeforeMs: server.accessTokenTtlMs + 1000 },
        ],
      })
      .catch(async (error: unknown) => {
        // The session is one process: the server's counts tell whether it got as far as refreshing.
        if ((await server.grants()).refresh_token > before.refresh_token) step.name = "the call after expiry (refresh)";
        throw new Error(`${String(error)}${walkFailures()}`, { cause: error });
      });
    expect(first[0], "the first tool call").toBe("5");
    step.name = "refresh";
    expect(first[1], "the call after the access token expired").toBe("2");
    expect(await logins(), "logins").toBe(1);
    expect((await server.grants()).refresh_token - before.refresh_token, "refresh_token grants").toBeGreaterThanOrEqual(1);
    expect(browser.opened, "authorization URLs opened").toHaveLength(1);

    step.name = "second instance on the same store";
    // Past any access token the first instance got: its second instance refreshes from the store, never
    // racing the server's clock with a token in its last milliseconds (ClientPeer.usesTokensWithoutMargin).
    if (client.usesTokensWithoutMargin) await sleep(server.accessTokenTtlMs + 1000);
    const second = await client.session({ mcpUrl: server.mcpUrl, stateDir, browser, calls: [{ a: 4, b: 4, waitBeforeMs: 0 }] });
    expect(second).toEqual(["8"]);
    expect(browser.opened, "authorization URLs opened after the second instance").toHaveLength(1);
    expect(await logins(), "logins after the second instance").toBe(1);
  } finally {
    await browser.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
