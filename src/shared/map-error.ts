import { AuthorizationResponseError, OperationProcessingError, ResponseBodyError, UnsupportedOperationError, WWWAuthenticateChallengeError } from "oauth4webapi";
import { ResponseTooLargeError } from "./back-channel.js";
import { OAuthError, type OAuthErrorCode } from "./errors.js";

/**
 * The one place foreign errors become `OAuthError`s. `step` names what was being done, for the message.
 *
 * oauth4webapi attaches raw response bodies and callback parameters to its errors; those can hold codes
 * and tokens, so they are not kept as `cause`. Only their code and message travel on. `sent` lists the
 * secrets the failed request carried (a code, a refresh token, a client secret): a server that echoes one
 * in its `error_description` does not get it printed.
 */
export function toOAuthError(error: unknown, code: OAuthErrorCode, step: string, sent: readonly (string | undefined)[] = []): OAuthError {
  const mapped = mapError(error, code, step);
  // Each secret as sent and as a body or URL would quote it (form- or percent-encoded).
  const secrets = [
    ...new Set(
      sent
        .filter((secret): secret is string => typeof secret === "string" && secret.length > 0)
        .flatMap((secret) => [secret, encodeURIComponent(secret), new URLSearchParams([["", secret]]).toString().slice(1)]),
    ),
  ];
  const redact = (text: string) => secrets.reduce((result, secret) => result.split(secret).join("[redacted]"), text);
  if (!chainTexts(mapped).some((text) => redact(text) !== text)) return mapped;
  return new OAuthError(mapped.code, redact(mapped.message), {
    // The cause chain too: a foreign error's message (a proxy quoting the body it refused) keeps the secret.
    cause: redactedChain(mapped.cause, redact, 0),
    transient: mapped.transient,
    ...(mapped.status === undefined ? {} : { status: mapped.status }),
    ...(mapped.oauthError === undefined ? {} : { oauthError: mapped.oauthError }),
  });
}

/** The message and, down the cause chain, each link's message and stack: what printing the error shows. */
function chainTexts(error: Error): string[] {
  const texts: string[] = [error.message];
  let link: unknown = error.cause;
  for (let depth = 0; link instanceof Error && depth < 8; depth++, link = link.cause) texts.push(link.message, link.stack ?? "");
  return texts;
}

/** A copy of a (scrubbed) cause chain with `redact` applied to every message and stack; names and codes kept. */
function redactedChain(cause: unknown, redact: (text: string) => string, depth: number): Error | undefined {
  if (!(cause instanceof Error) || depth >= 8) return undefined;
  const inner = redactedChain(cause.cause, redact, depth + 1);
  let copy: Error;
  if (cause instanceof OAuthError) {
    copy = new OAuthError(cause.code, redact(cause.message), {
      ...(inner ? { cause: inner } : {}),
      transient: cause.transient,
      ...(cause.status === undefined ? {} : { status: cause.status }),
      ...(cause.oauthError === undefined ? {} : { oauthError: cause.oauthError }),
    });
  } else {
    copy = new Error(redact(cause.message), inner ? { cause: inner } : undefined);
    copy.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" || typeof code === "number") Object.defineProperty(copy, "code", { value: code, enumerable: true });
  }
  copy.stack = redact(cause.stack ?? "");
  return copy;
}

/**
 * The last funnel, at the public API: whatever is not an `OAuthError` by now (a bug, a callback or a
 * store that threw something unforeseen) becomes `internal_error`, its cause scrubbed. The message names
 * the error's kind only: a foreign message may quote what it read.
 */
export function asOAuthError(error: unknown, step: string): OAuthError {
  if (error instanceof OAuthError) return error;
  const kind = error instanceof Error ? error.name : typeof error;
  return new OAuthError("internal_error", `${step} failed unexpectedly (${kind}; see cause)`, { cause: error });
}

function mapError(error: unknown, code: OAuthErrorCode, step: string): OAuthError {
  if (error instanceof OAuthError) return error;

  if (error instanceof UnsupportedOperationError && error.message.includes("token_type")) {
    // The body (tokens included) is this error's cause: only the type's name, when it is a plain word, is shown.
    const type = (error.cause as { body?: { token_type?: unknown } } | undefined)?.body?.token_type;
    const named = typeof type === "string" && /^[\w.-]{1,32}$/.test(type) ? ` ${type}` : "";
    return new OAuthError("unsupported_token_type", `${step}: the server issued a token of type${named}, not Bearer; it was not used`, { cause: scrubbed(error) });
  }

  if (error instanceof ResponseBodyError) {
    const description = error.error_description ? `: ${error.error_description}` : "";
    return new OAuthError(code, `${step}: server answered ${error.status} ${error.error}${description}`, {
      status: error.status,
      oauthError: error.error,
      transient: isTransientStatus(error.status) || error.error === "temporarily_unavailable" || error.error === "server_error",
      cause: scrubbed(error),
    });
  }

  if (error instanceof AuthorizationResponseError) {
    const description = error.error_description ? `: ${error.error_description}` : "";
    return new OAuthError(error.error === "access_denied" ? "access_denied" : code, `${step}: ${error.error}${description}`, {
      oauthError: error.error,
      cause: scrubbed(error),
    });
  }

  if (error instanceof OperationProcessingError) {
    const status = error.cause instanceof Response ? error.cause.status : undefined;
    const transient = status !== undefined && isTransientStatus(status);
    const statusText = status === undefined ? "" : ` (HTTP ${status})`;
    return new OAuthError(code, `${step}: ${error.message}${statusText}`, {
      ...(status === undefined ? {} : { status }),
      transient,
      cause: scrubbed(error),
    });
  }

  if (error instanceof WWWAuthenticateChallengeError) {
    // A 401 from a token endpoint carries its OAuth error in the challenge (RFC 6749 §5.2, RFC 6750 §3).
    const oauthError = error.cause.find((challenge) => challenge.parameters.error)?.parameters.error;
    const description = error.cause.find((challenge) => challenge.parameters.error_description)?.parameters.error_description;
    return new OAuthError(code, `${step}: server answered ${error.status}${oauthError ? ` ${oauthError}` : ""}${description ? `: ${description}` : ""}`, {
      status: error.status,
      ...(oauthError ? { oauthError } : {}),
      transient: isTransientStatus(error.status),
      cause: scrubbed(error),
    });
  }

  if (error instanceof ResponseTooLargeError) {
    return new OAuthError(code, `${step}: ${error.message}`, { cause: error });
  }

  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
    const aborted = error.name === "AbortError";
    return new OAuthError(aborted ? "aborted" : code, `${step}: ${aborted ? "aborted" : "timed out"}`, {
      transient: !aborted,
      cause: error,
    });
  }

  if (error instanceof TypeError && error.message === "fetch failed") {
    const reason = networkReason(error.cause);
    return new OAuthError(code, `${step}: network error${reason ? ` (${reason})` : ""}`, { transient: true, cause: error });
  }

  const message = error instanceof Error ? error.message : String(error);
  return new OAuthError(code, `${step}: ${message}`, { cause: error });
}

/**
 * A 5xx, or a 429 (RFC 6585: "too many requests", the request was not acted on): trying again later may
 * work, so stored credentials are kept. A 429 or 503 reaching here was already retried as far as
 * `maxRetries` and `maxRetryAfterMs` allow (see retry-after.ts).
 */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

function scrubbed(error: Error & { code?: string }): Error {
  const copy = new Error(error.message);
  copy.name = error.name;
  if (error.code) Object.defineProperty(copy, "code", { value: error.code, enumerable: true });
  return copy;
}

function networkReason(cause: unknown): string | undefined {
  if (cause && typeof cause === "object" && "code" in cause && typeof cause.code === "string") return cause.code;
  return cause instanceof Error ? cause.message : undefined;
}
