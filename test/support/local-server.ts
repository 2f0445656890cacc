import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";

/** Registers cleanups that run after each test of the calling file, newest first. */
export function cleanupAfterEach(): (close: () => Promise<unknown>) => void {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return (close) => void closers.push(close);
}

/** A server on 127.0.0.1 with an OS-picked port. */
export async function listenLocal(handler: RequestListener): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Another origin that records the Authorization header of every request it receives. */
export async function authorizationRecorder(): Promise<{ origin: string; seen: (string | undefined)[]; close: () => Promise<void> }> {
  const seen: (string | undefined)[] = [];
  const server = await listenLocal((request, response) => {
    seen.push(request.headers.authorization);
    response.writeHead(200).end("ok");
  });
  return { ...server, seen };
}
