import { OAuthError } from "./errors.js";

/** The `fetch` shape the library calls; the global `fetch` and undici's `fetch` both fit. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface BackChannelLimits {
  /** Abort a back-channel request that has not finished after this long. */
  timeoutMs: number;
  /** Refuse a back-channel response body larger than this. */
  maxResponseBytes: number;
}

export const defaultBackChannelLimits: BackChannelLimits = {
  timeoutMs: 30_000,
  maxResponseBytes: 1_048_576,
};

const loopbackHostnames = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** True for hosts that never leave the machine: `localhost`, 127.0.0.0/8 and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  return loopbackHostnames.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/** OAuth 2.1 §1.5 and the MCP spec: authorization server endpoints are `https:`, with a loopback exception for development. */
export function assertSecureEndpoint(url: string | URL, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new OAuthError("insecure_endpoint", `${what} is not a valid URL`, { cause });
  }
  const secure = parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopbackHost(parsed.hostname));
  if (!secure) {
    throw new OAuthError(
      "insecure_endpoint",
      `${what} must use https: (http: is allowed only on loopback hosts), got ${parsed.protocol}//${parsed.host}`,
    );
  }
  return parsed;
}

/**
 * Wraps the caller's fetch for requests to authorization and metadata servers: redirects are never
 * followed (an open redirect must not steer discovery or carry a code), every request has a deadline,
 * and the body is read up to a size limit so a hostile server cannot exhaust memory.
 */
export function createBackChannelFetch(baseFetch: FetchLike, limits: BackChannelLimits, outerSignal?: AbortSignal): FetchLike {
  return async (input, init = {}) => {
    const signals = [AbortSignal.timeout(limits.timeoutMs)];
    if (init.signal) signals.push(init.signal);
    if (outerSignal) signals.push(outerSignal);
    const response = await baseFetch(input, { ...init, redirect: "manual", signal: AbortSignal.any(signals) });
    const body = await readLimited(response, limits.maxResponseBytes);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** `fetch` whose requests are also aborted by `signal` (with its reason). */
export function withSignal(fetch: FetchLike, signal: AbortSignal): FetchLike {
  return (input, init = {}) => fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal });
}

async function readLimited(response: Response, maxBytes: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!response.body || response.status === 204 || response.status === 304) return null;
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.cancel();
    throw tooLarge(response.url, maxBytes);
  }
  return readAtMost(response.body, maxBytes, () => tooLarge(response.url, maxBytes));
}

/** Reads a stream to its end, or cancels it and throws `tooLarge()` as soon as it passes `maxBytes`. */
export async function readAtMost(stream: ReadableStream<Uint8Array>, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Raised when a back-channel body exceeds the limit; the failing step gives it its `OAuthError` code. */
export class ResponseTooLargeError extends Error {
  override readonly name = "ResponseTooLargeError";
}

function tooLarge(url: string, maxBytes: number): ResponseTooLargeError {
  const where = url ? ` from ${new URL(url).origin}` : "";
  return new ResponseTooLargeError(`response${where} is larger than ${maxBytes} bytes`);
}
