import { randomUUID } from "node:crypto";
import KeyvPostgres from "@keyv/postgres";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { Fernet, FernetEncryptionWrapper, type TokenStorage } from "../src/index.js";
import { postgresUp, postgresUrl } from "./support/backends.js";
import { harness, rpc, type Harness } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";

// Writes refused by a real PostgreSQL (a trigger raising on INSERT and UPDATE, as a read-only replica or
// a full disk would), while reads keep working.
const closeLater = cleanupAfterEach();

async function refusingPostgres(): Promise<{ keyv: Keyv; refuseWrites(on: boolean): Promise<void> }> {
  const table = `mcp_oauth_refuse_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const adapter = new KeyvPostgres({ uri: postgresUrl, table });
  const keyv = new Keyv({ store: adapter, namespace: "t" });
  keyv.on("error", () => undefined);
  await keyv.get("warm-up"); // the adapter creates its table on first use
  await adapter.query(`CREATE FUNCTION ${table}_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'writes refused'; END $$ LANGUAGE plpgsql`);
  closeLater(async () => {
    await adapter.query(`DROP TABLE IF EXISTS ${table}`);
    await adapter.query(`DROP FUNCTION IF EXISTS ${table}_refuse()`);
  });
  return {
    keyv,
    refuseWrites: async (on) => {
      await adapter.query(on ? `CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_refuse()` : `DROP TRIGGER refuse ON ${table}`);
    },
  };
}

const refreshRequests = (h: Harness) => h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token");

describe.skipIf(!postgresUp)("token writes the store refuses (PostgreSQL)", () => {
  it("behind FernetEncryptionWrapper, a refused write is reported, not mistaken for a success", async () => {
    const pg = await refusingPostgres();
    const h = await harness({}, { tokenStorage: new FernetEncryptionWrapper(pg.keyv, { keys: Fernet.generateKey() }) });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const key = h.oauth.storageKey("tokens", h.server.issuer);
    const stored = await pg.keyv.get(key);
    await pg.refuseWrites(true);
    h.clock.now += 3_600_000;
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.logger.lines.filter((line) => line.includes("could not write the tokens record"))).toHaveLength(1);
    expect(await pg.keyv.get(key)).toEqual(stored);
  });

  it("after a refused write, the next refresh in the same process spends the new refresh token, and stores it first", async () => {
    const pg = await refusingPostgres();
    const tokenStorage: TokenStorage = pg.keyv;
    const h = await harness({}, { tokenStorage });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    await pg.refuseWrites(true);
    h.clock.now += 3_600_000;
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200); // refreshed; the store keeps the spent refresh token
    await pg.refuseWrites(false);
    h.clock.now += 3_600_000;
    // The server revokes the whole grant if the spent refresh token is presented again (reuse detection).
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(refreshRequests(h)).toBe(2);
    expect(h.browser.opened).toHaveLength(1);
    const restarted = h.restart();
    expect((await restarted.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(refreshRequests(h)).toBe(2);
    expect(h.browser.opened).toHaveLength(1);
  });
});
