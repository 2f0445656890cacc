import { join } from "node:path";
import KeyvSqlite from "@keyv/sqlite";
import Keyv from "keyv";
import { Client } from "../../../src/client.js";
import type { ClientPeer, ClientSession } from "../peer.js";

/**
 * Our client as the README shows it: `new Client(url, { auth: "oauth" })`, its tokens in a SQLite file
 * (so the second session is another `OAuth` on the same store, as a restarted process would be), the
 * browser played by the matrix's stand-in.
 */
export const mcpOAuthClient: ClientPeer = {
  name: "mcp-oauth Client (auth: \"oauth\")",
  async session({ mcpUrl, stateDir, browser, calls }: ClientSession): Promise<string[]> {
    const tokenStorage = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${join(stateDir, "tokens.sqlite")}` }), namespace: "mcp-oauth" });
    const client = new Client(mcpUrl, { auth: "oauth", oauth: { tokenStorage, openBrowser: browser.open, callbackTimeoutMs: 30_000 } });
    try {
      await client.connect();
      const texts: string[] = [];
      for (const { a, b, waitBeforeMs } of calls) {
        await new Promise((resolve) => setTimeout(resolve, waitBeforeMs));
        const result = (await client.callTool("add", { a, b })) as { content?: { type: string; text?: string }[] };
        texts.push(result.content?.find((part) => part.type === "text")?.text ?? JSON.stringify(result));
      }
      return texts;
    } finally {
      await client.close().catch(() => undefined);
      await tokenStorage.disconnect();
    }
  },
};
