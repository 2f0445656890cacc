/**
 * A request that can be sent more than once (after a 401 or a step-up). Bodies that are already
 * replayable (strings, buffers, form data) are reused; a stream body is read once into memory.
 */
export interface ReplayableRequest {
  url: URL;
  init: RequestInit;
}

/**
 * `url` is `input` already parsed, when the caller has it (the hot path parses it once). Synchronous
 * when nothing has to be read (a string or buffer body, no duplex): the caller's init is then used as
 * is, with no copy and no await.
 */
export function toReplayable(input: string | URL | Request, init: RequestInit | undefined, url?: URL): ReplayableRequest | Promise<ReplayableRequest> {
  if (!(input instanceof Request) && (init === undefined || (!(init.body instanceof ReadableStream) && !("duplex" in init)))) {
    return { url: url ?? new URL(input), init: init ?? {} };
  }
  return readBody(input, init, url);
}

async function readBody(input: string | URL | Request, init: RequestInit | undefined, url?: URL): Promise<ReplayableRequest> {
  if (!(input instanceof Request)) {
    init ??= {};
    const body = init.body instanceof ReadableStream ? await new Response(init.body).arrayBuffer() : init.body;
    const { duplex: _duplex, ...rest } = init as RequestInit & { duplex?: string };
    return { url: url ?? new URL(input), init: body === undefined || body === null ? rest : { ...rest, body } };
  }
  const body = input.body ? await input.clone().arrayBuffer() : undefined;
  return {
    url: new URL(input.url),
    init: {
      method: input.method,
      headers: input.headers,
      signal: input.signal,
      redirect: input.redirect,
      ...(body === undefined ? {} : { body }),
      ...init,
    },
  };
}
