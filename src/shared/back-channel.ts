import { isLoopbackHostname } from "./classify-address.js";
import { OAuthError } from "./errors.js";
import { mergeSignals } from "./merge-signals.js";

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

/** What the `http:` rule of {@link assertSecureEndpoint} needs to know of the instance. */
export interface HttpRules {
  /** The MCP URL: a discovered `http:` URL on a loopback host is allowed only when this one is loopback too. */
  mcpUrl: URL;
  /** The development switch: an `http:` MCP URL on any host, and `http:` on loopback hosts whatever the MCP URL. */
  allowInsecureHttp: boolean;
}

/**
 * OAuth 2.1 §1.5 and the MCP spec: authorization server endpoints are `https:`, with a loopback exception
 * for development. With `rules` (every URL the MCP server leads to), `http:` is allowed only when both
 * this host and the MCP URL's are loopback (a remote MCP server must not send the client to a plain-text
 * port on this machine either), or, with `allowInsecureHttp`, on a loopback host whatever the MCP URL.
 * An `http:` URL on another host is refused even with the flag (requirement C8): the flag lets a
 * developer reach an MCP server over plain http, not send tokens across a network in clear text to
 * wherever that server points. Without `rules`, `http:` on any loopback host.
 */
export function assertSecureEndpoint(url: string | URL, what: string, rules?: HttpRules): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new OAuthError("insecure_endpoint", `${what} is not a valid URL`, { cause });
  }
  if (parsed.protocol === "https:") return parsed;
  if (parsed.protocol === "http:") {
    if (rules === undefined && isLoopbackHost(parsed.hostname)) return parsed;
    if (rules && isLoopbackHostname(parsed.hostname) && (rules.allowInsecureHttp || isLoopbackHostname(rules.mcpUrl.hostname))) return parsed;
  }
  const allowed = rules
    ? "http: is allowed only when this host and the MCP URL's are both loopback, or on a loopback host with allowInsecureHttp"
    : "http: is allowed only on loopback hosts";
  throw new OAuthError("insecure_endpoint", `${what} must use https: (${allowed}), got ${parsed.protocol}//${parsed.host}`);
}

/**
 * Wraps the caller's fetch for requests to authorization and metadata servers: redirects are never
 * followed (an open redirect must not steer discovery or carry a code), every request has a deadline,
 * and the body is read up to a size limit so a hostile server cannot exhaust memory.
 */
export function createBackChannelFetch(baseFetch: FetchLike, limits: BackChannelLimits, outerSignal?: AbortSignal): FetchLike {
  return async (input, init = {}) => {
    const signal = mergeSignals(AbortSignal.timeout(limits.timeoutMs), init.signal ?? undefined, outerSignal);
    const response = await baseFetch(input, { ...init, redirect: "manual", signal: signal ?? null });
    const body = await readLimited(response, limits.maxResponseBytes);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** `fetch` whose requests are also aborted by `signal` (with its reason). */
export function withSignal(fetch: FetchLike, signal: AbortSignal): FetchLike {
  return (input, init = {}) => fetch(input, { ...init, signal: mergeSignals(init.signal ?? undefined, signal) ?? null });
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
