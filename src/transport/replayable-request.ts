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

/**
 * Sets the bearer token without touching the caller's other headers (nor the caller's object). Plain
 * header objects stay plain objects: building a `Headers` costs more than the rest of the hot path.
 * `redirect` overrides the caller's redirect mode in the same copy.
 */
export function withBearer(init: RequestInit, accessToken: string | undefined, redirect?: RequestRedirect): RequestInit {
  if (accessToken === undefined) return init;
  const authorization = `Bearer ${accessToken}`;
  const given = init.headers;
  let headers: Record<string, string> | Headers;
  if (given === undefined || (typeof given === "object" && !(given instanceof Headers) && !Array.isArray(given))) {
    headers = { authorization };
    for (const name in given) {
      if (name.toLowerCase() !== "authorization") headers[name] = (given as Record<string, string>)[name] as string;
    }
  } else {
    headers = new Headers(given);
    headers.set("authorization", authorization);
  }
  return redirect === undefined ? { ...init, headers } : { ...init, headers, redirect };
}
