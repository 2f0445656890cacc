/**
 * Parser for `WWW-Authenticate` values (RFC 9110 §11.6.1).
 *
 * A hand-written scanner rather than a regex: the header is attacker-controlled and the
 * grammar (commas both between challenges and between params) invites backtracking.
 * Every step advances `pos`, and each token is scanned at most a constant number of times,
 * so parsing is linear. Malformed parts are skipped so one bad challenge cannot hide a good one.
 */

export interface Challenge {
  /** Lower-cased: schemes are case-insensitive. */
  scheme: string;
  /** Lower-cased names; the first occurrence of a duplicated name wins. */
  params: Readonly<Record<string, string>>;
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  if (typeof header !== "string") return [];
  const s = header;
  const n = s.length;
  let pos = 0;

  const isWs = (c: string | undefined): boolean => c === " " || c === "\t";
  const skipWs = (): void => {
    while (isWs(s[pos])) pos++;
  };
  const readWhile = (re: RegExp): string => {
    const start = pos;
    while (pos < n && re.test(s[pos] as string)) pos++;
    return s.slice(start, pos);
  };
  // Returns undefined when unterminated; pos then sits at the end, so nothing after is misread.
  const readQuoted = (): string | undefined => {
    pos++; // opening quote
    let out = "";
    let chunk = pos;
    while (pos < n) {
      const c = s[pos];
      if (c === '"') {
        out += s.slice(chunk, pos);
        pos++;
        return out;
      }
      if (c === "\\" && pos + 1 < n) {
        out += s.slice(chunk, pos);
        chunk = pos + 1; // keep the escaped char, drop the backslash
        pos += 2;
        continue;
      }
      pos++;
    }
    return undefined;
  };
  // Called with pos just after `=`. Unquoted values are read leniently (up to whitespace or
  // comma) because servers do send bare URLs, whose `:` and `/` are not tchars.
  const readValue = (): string | undefined => {
    skipWs();
    if (s[pos] === '"') return readQuoted();
    const start = pos;
    while (pos < n && s[pos] !== "," && !isWs(s[pos])) pos++;
    return pos > start ? s.slice(start, pos) : undefined;
  };
  // token68 only if it is the whole list element; otherwise `realm=x` would match as `realm=`.
  const tryToken68 = (): string | undefined => {
    const start = pos;
    const body = readWhile(TOKEN68_CHAR);
    if (body !== "") {
      while (s[pos] === "=") pos++;
      const end = pos;
      skipWs();
      if (pos >= n || s[pos] === ",") return s.slice(start, end);
    }
    pos = start;
    return undefined;
  };

  const challenges: Challenge[] = [];
  while (pos < n) {
    const c = s[pos];
    if (c === "," || isWs(c)) {
      pos++; // empty list elements are allowed
      continue;
    }
    const scheme = readWhile(TCHAR);
    if (scheme === "") {
      // Stray quoted strings are skipped whole so their commas do not start new elements.
      if (c === '"') readQuoted();
      else pos++;
      continue;
    }
    const after = s[pos];
    const schemeEnd = pos;
    skipWs();
    if (s[pos] === "=") {
      // A param with no scheme in front of it: nobody to attach it to, drop it.
      pos++;
      readValue();
      continue;
    }
    pos = schemeEnd;
    if (pos < n && after !== "," && !isWs(after)) continue; // e.g. `Bearer;` — not a scheme
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    skipWs();
    const token68 = tryToken68();
    if (token68 !== undefined) {
      challenge.token68 = token68;
    } else {
      const params = new Map<string, string>();
      while (pos < n) {
        if (s[pos] === "," || isWs(s[pos])) {
          pos++;
          continue;
        }
        const nameStart = pos;
        const name = readWhile(TCHAR);
        if (name === "") {
          if (s[pos] === '"') readQuoted();
          else pos++;
          continue;
        }
        skipWs();
        if (s[pos] !== "=") {
          // A token not followed by `=` is the next challenge's scheme (joined header lines).
          pos = nameStart;
          break;
        }
        pos++;
        const value = readValue();
        const key = name.toLowerCase();
        // Keep the first: a repeated param is suspicious, and a later one must not override.
        if (value !== undefined && !params.has(key)) params.set(key, value);
      }
      // fromEntries defines own properties, so a `__proto__` param cannot touch the prototype.
      challenge.params = Object.fromEntries(params);
    }
    challenges.push(challenge);
  }
  return challenges;
}

/** The MCP-relevant facts of a 401/403 answer: the Bearer (or DPoP) challenge's error, scope and resource_metadata. */
export interface BearerChallenge {
  error?: string;
  errorDescription?: string;
  scope?: string;
  resourceMetadata?: string;
}

export function readBearerChallenge(headers: Headers): BearerChallenge | undefined {
  const challenges = parseWwwAuthenticate(headers.get("www-authenticate"));
  const found =
    challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "dpop");
  if (found === undefined) return undefined;
  const out: BearerChallenge = {};
  // Empty values are treated as absent: `scope=""` must not become a request for no scope.
  const pick = (name: string): string | undefined =>
    (Object.hasOwn(found.params, name) && found.params[name]) || undefined;
  const error = pick("error");
  const errorDescription = pick("error_description");
  const scope = pick("scope");
  const resourceMetadata = pick("resource_metadata");
  if (error !== undefined) out.error = error;
  if (errorDescription !== undefined) out.errorDescription = errorDescription;
  if (scope !== undefined) out.scope = scope;
  if (resourceMetadata !== undefined) out.resourceMetadata = resourceMetadata;
  return out;
}
