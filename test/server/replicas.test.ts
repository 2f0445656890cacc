import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresProviderStore } from "../../src/server/index.js";
import type { ReplicaConfig } from "../support/store-replica.js";
import { postgresUrl, redisUrl, runId, useBackends } from "./store-backends.js";
import { REDIRECT_URI, formBody, pkce, type TokenBody } from "./support.js";

/**
 * Issue 11, "several replicas, one store": two server processes (test/support/store-replica.ts, run
 * with `npx tsx`), each a StoreOAuthProvider with the consent page on, share one Redis, then one
 * PostgreSQL. Both are configured with one public base URL, as behind a load balancer; each request
 * below goes to the replica the test picks. Only 127.0.0.1; every wait is bounded; the processes are
 * killed in afterAll.
 */
const { pool, prefixes, tables } = useBackends();

const workerPath = fileURLToPath(new URL("../support/store-replica.ts", import.meta.url));
/** The load balancer's address: the issuer and the origin of every URL the replicas hand out. */
const publicBase = "http://127.0.0.1:1";
const graceSeconds = 30;

interface Replica {
  name: string;
  port: number;
  url(path: string): string;
  stop(): Promise<void>;
}

async function startReplica(name: string, config: ReplicaConfig): Promise<Replica> {
  // Own process group, so stopping it reaches tsx's node child behind npx too.
  const child: ChildProcess = spawn("npx", ["tsx", workerPath], {
    env: { ...process.env, REPLICA_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, "SIGTERM");
    const killed = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5000);
    await exited;
    clearTimeout(killed);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica ${name} did not start within 60 s; stderr: ${stderr}`)), 60_000);
      createInterface({ input: child.stdout! }).once("line", (line) => {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`replica ${name} exited; stderr: ${stderr}`));
      });
    });
    return { name, port, url: (path) => `http://127.0.0.1:${port}${path}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A URL a replica handed out (on the public base), sent to `replica` instead. */
const via = (replica: Replica, handedOut: string) => {
  const url = new URL(handedOut);
  return replica.url(url.pathname + url.search);
};

const stores: [string, () => Promise<ReplicaConfig["store"]>][] = [
  [
    `one Redis (${redisUrl})`,
    async () => {
      const prefix = `mcp-oauth-test-${runId()}:`;
      prefixes.push(prefix);
      return { kind: "redis", url: redisUrl, prefix };
    },
  ],
  [
    `one PostgreSQL (${postgresUrl})`,
    async () => {
      const table = `mcp_oauth_test_${runId()}`;
      tables.push(table);
      await new PostgresProviderStore(pool(), { table }).ensureSchema();
      return { kind: "postgres", url: postgresUrl, table };
    },
  ],
];

for (const [storeName, makeStore] of stores) {
  describe.sequential(`two replicas on ${storeName}`, () => {
    let a: Replica;
    let b: Replica;
    beforeAll(async () => {
      const config: ReplicaConfig = { baseUrl: publicBase, store: await makeStore(), refreshTokenGraceSeconds: graceSeconds };
      const started = await Promise.allSettled([startReplica("A", config), startReplica("B", config)]);
      for (const s of started) {
        if (s.status !== "fulfilled") continue;
        if (s.value.name === "A") a = s.value;
        else b = s.value;
      }
      const failed = started.find((s) => s.status === "rejected");
      if (failed) throw failed.reason;
    }, 120_000);
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    }, 20_000);

    const post = (replica: Replica, path: string, form: Record<string, string | undefined>, headers: Record<string, string> = {}) =>
      fetch(replica.url(path), { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: formBody(form) });
    const mcp = (replica: Replica, accessToken: string) => fetch(replica.url("/mcp"), { headers: { authorization: `Bearer ${accessToken}` } });

    async function register(replica: Replica): Promise<string> {
      const response = await fetch(replica.url("/register"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { client_id: string }).client_id;
    }

    /** /authorize at `first`, the consent page loaded from `first`, the form posted to `second`: the code and its verifier. */
    async function consent(first: Replica, second: Replica, clientId: string, check?: (post: (csrf: string) => Promise<Response>) => Promise<void>) {
      const { verifier, challenge } = pkce();
      const authorize = new URL(first.url("/authorize"));
      const params = { response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: "S256", state: "s" };
      for (const [k, v] of Object.entries(params)) authorize.searchParams.set(k, v);
      const started = await fetch(authorize, { redirect: "manual" });
      expect(started.status).toBe(302);
      const consentUrl = started.headers.get("location") ?? "";
      expect(consentUrl.startsWith(`${publicBase}/consent?request=`)).toBe(true);
      const page = await fetch(via(first, consentUrl), { redirect: "manual" });
      expect(page.status).toBe(200);
      const html = await page.text();
      const csrf = html.match(/name="csrf" value="([^"]*)"/)?.[1] ?? "";
      const cookie = (page.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "";
      const request = new URL(consentUrl).searchParams.get("request") ?? "";
      const send = (token: string) => post(second, "/consent", { request, csrf: token, decision: "approve" }, { cookie, origin: publicBase });
      await check?.(send);
      const approved = await send(csrf);
      expect(approved.status).toBe(303);
      const code = new URL(approved.headers.get("location") ?? "").searchParams.get("code") ?? "";
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
      return { code, verifier };
    }

    const redeem = (replica: Replica, clientId: string, login: { code: string; verifier: string }) =>
      post(replica, "/token", { grant_type: "authorization_code", client_id: clientId, code: login.code, code_verifier: login.verifier, redirect_uri: REDIRECT_URI });
    const refresh = (replica: Replica, clientId: string, refreshToken: string | undefined) => post(replica, "/token", { grant_type: "refresh_token", client_id: clientId, refresh_token: refreshToken });
    const tokens = async (response: Response): Promise<TokenBody> => {
      expect(response.status).toBe(200);
      return (await response.json()) as TokenBody;
    };

    it("authorize at A, approve at B (a forged CSRF there first is refused without destroying the consent), redeem at A, use at B", async () => {
      const clientId = await register(a);
      const login = await consent(a, b, clientId, async (send) => {
        expect((await send("forged")).status).toBe(403);
      });
      const issued = await tokens(await redeem(a, clientId, login));
      const seen = await mcp(b, issued.access_token);
      expect(seen.status).toBe(200);
      expect(await seen.json()).toEqual({ clientId, subject: "user" });
      // The same code again, now at B: consumed (the replay revokes the grant everywhere).
      expect((await redeem(b, clientId, login)).status).toBe(400);
      expect((await mcp(a, issued.access_token)).status).toBe(401);
    });

    it("refresh at B; within the grace window the previous token gets the same successor at A; a token two rotations old revokes the grant everywhere", async () => {
      const clientId = await register(b);
      const first = await tokens(await redeem(a, clientId, await consent(a, b, clientId)));
      const second = await tokens(await refresh(b, clientId, first.refresh_token));
      const again = await tokens(await refresh(a, clientId, first.refresh_token));
      expect(again.refresh_token).toBe(second.refresh_token);
      expect(again.access_token).toBe(second.access_token);
      const third = await tokens(await refresh(a, clientId, second.refresh_token));
      expect((await mcp(b, third.access_token)).status).toBe(200);
      // `first` is two rotations old: reuse, the whole grant goes, on both replicas.
      const replay = await refresh(a, clientId, first.refresh_token);
      expect(replay.status).toBe(400);
      expect(await replay.json()).toMatchObject({ error: "invalid_grant" });
      const refused = await mcp(b, third.access_token);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect((await refresh(b, clientId, third.refresh_token)).status).toBe(400);
    });

    it("10 concurrent refreshes of one token on both replicas all get the same successor: a client racing itself is not logged out", async () => {
      const clientId = await register(a);
      const first = await tokens(await redeem(a, clientId, await consent(a, b, clientId)));
      const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(i % 2 ? a : b, clientId, first.refresh_token)));
      expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
      const bodies = (await Promise.all(responses.map((r) => r.json()))) as TokenBody[];
      expect(new Set(bodies.map((body) => body.refresh_token)).size).toBe(1);
      expect(new Set(bodies.map((body) => body.access_token)).size).toBe(1);
      expect((await mcp(b, bodies[0]!.access_token)).status).toBe(200);
      expect((await tokens(await refresh(a, clientId, bodies[0]!.refresh_token))).refresh_token).toBeTruthy();
    });

    it("a token revoked at A is refused by B's guard; the refresh token of another grant still works", async () => {
      const clientId = await register(a);
      const one = await tokens(await redeem(b, clientId, await consent(b, a, clientId)));
      const two = await tokens(await redeem(a, clientId, await consent(a, b, clientId)));
      expect((await mcp(b, one.access_token)).status).toBe(200);
      expect((await post(a, "/revoke", { client_id: clientId, token: one.access_token })).status).toBe(200);
      expect((await mcp(b, one.access_token)).status).toBe(401);
      expect((await mcp(b, two.access_token)).status).toBe(200);
      // Revoking a refresh token revokes its grant: at A, then refused at B.
      expect((await post(b, "/revoke", { client_id: clientId, token: two.refresh_token, token_type_hint: "refresh_token" })).status).toBe(200);
      expect((await mcp(a, two.access_token)).status).toBe(401);
      expect((await refresh(a, clientId, two.refresh_token)).status).toBe(400);
    });

    it("20 concurrent redemptions of one code across both replicas: exactly one 200", async () => {
      const clientId = await register(a);
      const login = await consent(a, b, clientId);
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => redeem(i % 2 ? a : b, clientId, login)));
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 400)).toHaveLength(19);
      const winner = (await responses[statuses.indexOf(200)]!.json()) as TokenBody;
      // The losers presented the verifier: a replay, so the grant (the winner's token too) is revoked.
      expect((await mcp(a, winner.access_token)).status).toBe(401);
    });
  });
}
