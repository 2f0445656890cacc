import type { Dispatcher } from "undici";

/**
 * The one place the bearer token is put on a request (RFC 6750 §2.1), for each way a request is made:
 * fetch's `RequestInit` (`oauth.fetch`, the `Client`'s static token) and undici's dispatch options (the
 * interceptor). Each copies the caller's headers, replacing an Authorization header whatever its case.
 */

/** The Authorization header's value for `token`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/**
 * Sets the bearer token without touching the caller's other headers (nor the caller's object). Plain
 * header objects stay plain objects: building a `Headers` costs more than the rest of the hot path.
 * `redirect` overrides the caller's redirect mode in the same copy.
 */
export function withBearer(init: RequestInit, accessToken: string | undefined, redirect?: RequestRedirect): RequestInit {
  if (accessToken === undefined) return init;
  const authorization = bearer(accessToken);
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

/** Copies the caller's headers in any of undici's shapes, replacing Authorization whatever its case. */
export function withBearerDispatch(options: Dispatcher.DispatchOptions, token: string): Dispatcher.DispatchOptions {
  const headers: Record<string, string | string[]> = {};
  const source = options.headers;
  if (Array.isArray(source)) {
    for (let i = 0; i + 1 < source.length; i += 2) copyHeader(headers, String(source[i]), String(source[i + 1]));
  } else if (source && Symbol.iterator in source) {
    for (const [name, value] of source as Iterable<[string, string | string[] | undefined]>) copyHeader(headers, name, value);
  } else if (source) {
    // The common shape, on every request: a loop without a closure or an entries array.
    const record = source as Record<string, string | string[] | undefined>;
    for (const name in record) copyHeader(headers, name, record[name]);
  }
  headers.authorization = bearer(token);
  return { ...options, headers };
}

function copyHeader(into: Record<string, string | string[]>, name: string, value: string | string[] | undefined): void {
  // "authorization" has 13 letters: other names skip the lower-casing.
  if (value !== undefined && !(name.length === 13 && name.toLowerCase() === "authorization")) into[name] = value;
}
