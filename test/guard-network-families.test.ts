/**
 * The built-in fetch's connect-time lookup (src/shared/guard-network.ts, `checkedLookup`) keeps the address
 * family the socket asked for: a socket that names none (net.connect's default, with or without happy
 * eyeballs) gets a resolution over both families, so a host reachable only over IPv6 stays reachable. The
 * resolver here records the options of every call; the only connection made is to 127.0.0.1.
 */
import type { LookupAddress } from "node:dns";
import net, { isIP, type LookupFunction } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { guardNetwork } from "../src/shared/guard-network.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";
import { loopbackOnlyConnections } from "./support/loopback-only.js";

const closeLater = cleanupAfterEach();

afterEach(() => {
  vi.restoreAllMocks();
  net.setDefaultAutoSelectFamily(true);
});

/** A resolver answering 127.0.0.1 for every name, recording each call's name and options. */
function recordingResolver() {
  const calls: { hostname: string; family: unknown; all: unknown }[] = [];
  const lookup = ((hostname: string, options: { all?: boolean; family?: unknown }, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    calls.push({ hostname, family: options.family, all: options.all });
    const address = "127.0.0.1";
    queueMicrotask(() => (options.all ? callback(null, [{ address, family: isIP(address) }]) : callback(null, address, isIP(address))));
  }) as LookupFunction;
  return { lookup, calls };
}

describe("the connect-time lookup's address family", () => {
  it.each([true, false])("is left open when the socket names none (autoSelectFamily %s)", async (autoSelectFamily) => {
    net.setDefaultAutoSelectFamily(autoSelectFamily);
    const attempts = loopbackOnlyConnections();
    const server = await listenLocal((_request, response) => void response.writeHead(200).end("ok"));
    closeLater(server.close);
    const { lookup, calls } = recordingResolver();
    const guarded = guardNetwork({
      // A loopback MCP URL: the guard's own check resolves nothing, so every call recorded is the socket's.
      mcpUrl: new URL("http://localhost:1/mcp"),
      allowInsecureHttp: false,
      allowPrivateNetworks: false,
      namedOrigins: new Set(),
      lookup,
      userFetch: undefined,
    });
    const response = await guarded(`http://as.localhost:${new URL(server.origin).port}/`);
    await expect(response.text()).resolves.toBe("ok");
    expect(attempts).toEqual(["as.localhost"]);
    // The guard always resolves every address (to check them all), and narrows no family.
    expect(calls).toEqual([{ hostname: "as.localhost", family: undefined, all: true }]);
  });
});
