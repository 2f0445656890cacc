/**
 * A node-redis client (v4, v5: `sendCommand(args)`) or an ioredis one (`call(command, ...args)`). The
 * same shape as the client side's `RedisCommandClient`, declared again so the server depends on no client
 * module.
 */
export type RedisServerClient =
  | {
      /** node-redis: sends one command given as its words (`["SET", key, value, ...]`) and resolves its reply. */
      sendCommand(args: string[]): Promise<unknown>;
    }
  | {
      /** ioredis: sends `command` with `args` and resolves its reply. */
      call(command: string, ...args: string[]): Promise<unknown>;
    };

/**
 * Sends one command through a node-redis client (v4, v5: `sendCommand(args)`) or an ioredis one
 * (`call(command, ...args)`), told apart by duck typing so that neither library is a dependency. `client`
 * may be a function returning a connected client, called for each command. Shared by `RedisRateLimiter`
 * and `RedisProviderStore`.
 */
export async function sendRedisCommand(client: RedisServerClient | (() => Promise<RedisServerClient>), args: string[]): Promise<unknown> {
  const connected = typeof client === "function" ? await client() : client;
  if ("sendCommand" in connected) return connected.sendCommand(args);
  const [command, ...rest] = args as [string, ...string[]];
  return connected.call(command, ...rest);
}
