import net, { isIP, type LookupFunction, type NetConnectOpts } from "node:net";
import tls, { type ConnectionOptions } from "node:tls";
import { vi } from "vitest";

/**
 * The safety net of the network-rule tests: every socket the code opens is recorded, and only connections
 * that end up at 127.0.0.1 are let through, so a broken guard can never send test traffic to a private or
 * metadata address. Restore with `vi.restoreAllMocks()` after each test.
 */
export function loopbackOnlyConnections(): string[] {
  const attempts: string[] = [];
  const safeOptions = <T extends { host?: string | undefined; lookup?: LookupFunction | undefined }>(options: T): T => {
    const host = options.host ?? "";
    attempts.push(host);
    if (isIP(host)) {
      if (host !== "127.0.0.1") throw new Error(`test safety: refused a connection to ${host}`);
      return options;
    }
    const lookup = options.lookup;
    if (!lookup) throw new Error(`test safety: a connection to ${host} without the library's lookup`);
    const guarded: LookupFunction = (hostname, lookupOptions, callback) =>
      lookup(hostname, lookupOptions, (error, address, family) => {
        const list = typeof address === "string" ? [address] : (address ?? []).map((entry) => entry.address);
        if (!error && list.some((ip) => ip !== "127.0.0.1")) return callback(new Error(`test safety: ${hostname} resolved to ${list.join(", ")}`), "", 0);
        callback(error, address, family);
      });
    return { ...options, lookup: guarded };
  };
  const realNet = net.connect.bind(net) as (options: NetConnectOpts) => net.Socket;
  const realTls = tls.connect.bind(tls) as (options: ConnectionOptions) => tls.TLSSocket;
  vi.spyOn(net, "connect").mockImplementation(((options: NetConnectOpts) => realNet(safeOptions(options as NetConnectOpts & { host?: string }))) as typeof net.connect);
  vi.spyOn(tls, "connect").mockImplementation(((options: ConnectionOptions) => realTls(safeOptions(options))) as typeof tls.connect);
  return attempts;
}
