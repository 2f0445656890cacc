import { describe, it, expect } from "vitest";
import {
  parseWwwAuthenticate,
  readBearerChallenge,
  type BearerChallenge,
  type Challenge,
} from "../src/flow/parse-www-authenticate.js";

const SDK_MISSING =
  'Bearer error="invalid_token", error_description="Missing Authorization header", scope="mcp:basic", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp"';
const SDK_SCOPE =
  'Bearer error="insufficient_scope", scope="mcp:basic mcp:write", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp"';
const PRM = "http://localhost:3000/.well-known/oauth-protected-resource/mcp";

const parseCases: Array<[string, string | null | undefined, Challenge[]]> = [
  ["null", null, []],
  ["undefined", undefined, []],
  ["empty string", "", []],
  ["bare scheme", "Basic", [{ scheme: "basic", params: {} }]],
  ["scheme is lower-cased", "BEARER", [{ scheme: "bearer", params: {} }]],
  ["scheme with trailing space", "Basic  ", [{ scheme: "basic", params: {} }]],
  [
    "MCP SDK missing-header challenge",
    SDK_MISSING,
    [
      {
        scheme: "bearer",
        params: {
          error: "invalid_token",
          error_description: "Missing Authorization header",
          scope: "mcp:basic",
          resource_metadata: PRM,
        },
      },
    ],
  ],
  [
    "MCP SDK insufficient_scope challenge",
    SDK_SCOPE,
    [
      {
        scheme: "bearer",
        params: { error: "insufficient_scope", scope: "mcp:basic mcp:write", resource_metadata: PRM },
      },
    ],
  ],
  [
    "two challenges joined by Headers.get",
    'Basic realm="a", Bearer error="invalid_token", scope="a b", resource_metadata="http://x/.well-known/oauth-protected-resource/mcp"',
    [
      { scheme: "basic", params: { realm: "a" } },
      {
        scheme: "bearer",
        params: {
          error: "invalid_token",
          scope: "a b",
          resource_metadata: "http://x/.well-known/oauth-protected-resource/mcp",
        },
      },
    ],
  ],
  [
    "RFC 9110 example with escaped quotes",
    'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
    [
      { scheme: "newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
      { scheme: "basic", params: { realm: "simple" } },
    ],
  ],
  [
    "unquoted values",
    "Bearer error=invalid_token, scope=read",
    [{ scheme: "bearer", params: { error: "invalid_token", scope: "read" } }],
  ],
  [
    "unquoted URL value",
    "Bearer resource_metadata=https://rs.example/.well-known/oauth-protected-resource",
    [
      {
        scheme: "bearer",
        params: { resource_metadata: "https://rs.example/.well-known/oauth-protected-resource" },
      },
    ],
  ],
  [
    "quoted value with commas, = and escapes",
    'Bearer error_description="a, b=c, \\"d\\" \\\\ e", scope=x',
    [{ scheme: "bearer", params: { error_description: 'a, b=c, "d" \\ e', scope: "x" } }],
  ],
  [
    "empty quoted value",
    'Bearer realm="", scope="s"',
    [{ scheme: "bearer", params: { realm: "", scope: "s" } }],
  ],
  [
    "duplicate param: first wins",
    'Bearer scope="a", SCOPE="b", scope=c',
    [{ scheme: "bearer", params: { scope: "a" } }],
  ],
  [
    "param names lower-cased",
    'Bearer Error="invalid_token", Resource_Metadata="u"',
    [{ scheme: "bearer", params: { error: "invalid_token", resource_metadata: "u" } }],
  ],
  [
    "whitespace around = and commas",
    'Bearer  error = "invalid_token" ,scope =read ,  realm= "r"',
    [{ scheme: "bearer", params: { error: "invalid_token", scope: "read", realm: "r" } }],
  ],
  [
    "empty list elements",
    ', ,Basic realm="a",, ,Bearer scope="s",,',
    [
      { scheme: "basic", params: { realm: "a" } },
      { scheme: "bearer", params: { scope: "s" } },
    ],
  ],
  ["token68", "Bearer abc==", [{ scheme: "bearer", params: {}, token68: "abc==" }]],
  [
    "token68 then another challenge",
    'Negotiate a+b/c9=, Basic realm="x"',
    [
      { scheme: "negotiate", params: {}, token68: "a+b/c9=" },
      { scheme: "basic", params: { realm: "x" } },
    ],
  ],
  [
    "param-less challenge between others",
    'Basic realm="a", Negotiate, Bearer scope="s"',
    [
      { scheme: "basic", params: { realm: "a" } },
      { scheme: "negotiate", params: {} },
      { scheme: "bearer", params: { scope: "s" } },
    ],
  ],
  [
    "param-less challenge last",
    'Basic realm="a", Negotiate',
    [
      { scheme: "basic", params: { realm: "a" } },
      { scheme: "negotiate", params: {} },
    ],
  ],
  ["lone quote", '"', []],
  ["lone equals", "=", []],
  ["only commas", ",,,", []],
  ["orphan param without scheme", 'realm="x", Bearer scope="s"', [{ scheme: "bearer", params: { scope: "s" } }]],
  [
    "unterminated quote drops that param only",
    'Bearer scope="s", error="invalid_token',
    [{ scheme: "bearer", params: { scope: "s" } }],
  ],
  [
    "mismatched quotes pair left to right, trailing junk skipped",
    'Bearer error="x, Basic realm="y"',
    [{ scheme: "bearer", params: { error: "x, Basic realm=" } }],
  ],
  [
    "param with missing value is dropped",
    "Bearer scope=s, realm=, error=e",
    [{ scheme: "bearer", params: { scope: "s", error: "e" } }],
  ],
  // Per the grammar `realm=` alone is a token68; the orphan `scope=s` after it is dropped.
  ["leading `name=` is a token68", "Bearer realm=, scope=s", [{ scheme: "bearer", params: {}, token68: "realm=" }]],
  ["stray quoted string skipped", 'Bearer "junk, more", scope=s', [{ scheme: "bearer", params: { scope: "s" } }]],
  ["__proto__ param is an own property", 'Bearer __proto__="x"', [{ scheme: "bearer", params: { ["__proto__"]: "x" } }]],
];

describe("parseWwwAuthenticate", () => {
  it.each(parseCases)("%s", (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });

  it("never throws on garbage", () => {
    for (const g of ['"', "=", ",,,", '"\\', "\\", 'a="', "a b c d", "=\"=\"=", "Bearer \t", "Bearer ,=,=,"]) {
      expect(() => parseWwwAuthenticate(g)).not.toThrow();
    }
  });

  it("parses a 5,000-char garbage string in well under 50 ms", () => {
    const pieces = ['"', "=", ",", " ", "\\", "a", "Bearer ", "x=", '"q"', "==", "\t"];
    let garbage = "";
    for (let i = 0; garbage.length < 5000; i++) garbage += pieces[(i * 7 + (i >> 3)) % pieces.length];
    const inputs = [garbage.slice(0, 5000), "a ".repeat(2500), "a=".repeat(2500), ",".repeat(5000), 'B "'.repeat(1667)];
    for (const input of inputs) {
      const start = performance.now();
      parseWwwAuthenticate(input);
      expect(performance.now() - start).toBeLessThan(50);
    }
  });
});

const bearerCases: Array<[string, string | undefined, BearerChallenge | undefined]> = [
  ["no header", undefined, undefined],
  ["no bearer or dpop", 'Basic realm="a"', undefined],
  [
    "MCP SDK missing-header",
    SDK_MISSING,
    { error: "invalid_token", errorDescription: "Missing Authorization header", scope: "mcp:basic", resourceMetadata: PRM },
  ],
  ["MCP SDK insufficient_scope", SDK_SCOPE, { error: "insufficient_scope", scope: "mcp:basic mcp:write", resourceMetadata: PRM }],
  ["bearer after basic", 'Basic realm="a", Bearer scope="s"', { scope: "s" }],
  ["bare bearer: no keys", "Bearer", {}],
  ["dpop when no bearer", 'DPoP error="use_dpop_nonce", algs="ES256"', { error: "use_dpop_nonce" }],
  ["bearer preferred over earlier dpop", 'DPoP error="a", Bearer error="b"', { error: "b" }],
  ["empty values treated as absent", 'Bearer scope="", error="invalid_token"', { error: "invalid_token" }],
];

describe("readBearerChallenge", () => {
  it.each(bearerCases)("%s", (_name, header, expected) => {
    const headers = new Headers();
    if (header !== undefined) headers.set("www-authenticate", header);
    const got = readBearerChallenge(headers);
    expect(got).toStrictEqual(expected);
    if (got !== undefined) for (const v of Object.values(got)) expect(v).not.toBeUndefined();
  });

  it("reads a Bearer challenge from several appended header lines", () => {
    const headers = new Headers();
    headers.append("www-authenticate", 'Basic realm="a"');
    headers.append("www-authenticate", SDK_SCOPE);
    expect(readBearerChallenge(headers)).toStrictEqual({
      error: "insufficient_scope",
      scope: "mcp:basic mcp:write",
      resourceMetadata: PRM,
    });
  });
});
