/**
 * A request that can be sent more than once (after a 401 or a step-up). Bodies that are already
 * replayable (strings, buffers, form data) are reused; a stream body is read once into memory.
 */
export interface ReplayableRequest {
  url: URL;
  init: RequestInit;
}

export async function toReplayable(input: string | URL | Request, init: RequestInit | undefined): Promise<ReplayableRequest> {
  if (!(input instanceof Request)) {
    const body = init?.body instanceof ReadableStream ? await new Response(init.body).arrayBuffer() : init?.body;
    const { duplex: _duplex, ...rest } = (init ?? {}) as RequestInit & { duplex?: string };
    return { url: new URL(input), init: body === undefined ? rest : { ...rest, body } };
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

/** Sets (or removes) the bearer token without touching the caller's other headers. */
export function withBearer(init: RequestInit, accessToken: string | undefined): RequestInit {
  if (accessToken === undefined) return init;
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${accessToken}`);
  return { ...init, headers };
}
