import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  origin: string;
  mcpUrl: string;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1:`port` (0: a free port the OS picks), then mounts the listener `mount` builds
 * for the resulting origin: a provider's issuer and endpoint URLs contain the port, so they can only
 * be built once it is known.
 */
export async function listenThenMount(port: number, mount: (origin: string) => RequestListener): Promise<Listening> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on("request", mount(origin));
  let closing: Promise<void> | undefined;
  return {
    origin,
    mcpUrl: `${origin}/mcp`,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets from fetch would otherwise hold close() open until they time out.
        server.closeAllConnections();
      })),
  };
}
