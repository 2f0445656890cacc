import { generateKeyPairSync } from "node:crypto";
import Keyv from "keyv";
import { describe, expect, it, vi } from "vitest";
import { OAuth, OAuthError } from "../src/index.js";

function optionError(options: unknown): OAuthError {
  try {
    new OAuth(options as ConstructorParameters<typeof OAuth>[0]);
  } catch (error) {
    if (error instanceof OAuthError) return error;
    throw error;
  }
  throw new Error("expected the constructor to throw");
}

describe("options are checked at construction", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["a missing mcpUrl", {}, "mcpUrl"],
    ["a non-http mcpUrl", { mcpUrl: "file:///etc/passwd" }, "mcpUrl"],
    ["a callback port out of range", { mcpUrl: "http://127.0.0.1:1/mcp", callbackPort: 70000 }, "callbackPort"],
    ["a store without delete", { mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: { get: async () => 1, set: async () => 1 } }, "tokenStorage"],
    ["an http: CIMD URL", { mcpUrl: "http://127.0.0.1:1/mcp", clientMetadataUrl: "http://client.example.com/m.json" }, "clientMetadataUrl"],
    ["a CIMD URL without a path", { mcpUrl: "http://127.0.0.1:1/mcp", clientMetadataUrl: "https://client.example.com/" }, "clientMetadataUrl"],
    ...[
      "https://client.example.com/a/../m.json",
      "https://client.example.com/./m.json",
      "https://client.example.com/a/%2e%2e/m.json",
      "https://client.example.com/a/.%2E/m.json",
      "https://client.example.com/m.json/..",
      "https://client.example.com/m.json#",
      "https://client.example.com/m.json#x",
      "https://user:pw@client.example.com/m.json",
      "https://user@client.example.com/m.json",
      "https://CLIENT.example.com/m.json",
      "https://client.example.com:443/m.json",
      "https://client.example.com/m json",
    ].map((url): [string, Record<string, unknown>, string] => [`the CIMD URL ${url}`, { mcpUrl: "http://127.0.0.1:1/mcp", clientMetadataUrl: url }, "clientMetadataUrl"]),
    ["a secret without a client id", { mcpUrl: "http://127.0.0.1:1/mcp", clientSecret: "s" }, "clientSecret"],
    ["a misspelt option", { mcpUrl: "http://127.0.0.1:1/mcp", scope: "read" }, "scope"],
    ["a non-function opener", { mcpUrl: "http://127.0.0.1:1/mcp", openBrowser: "firefox" }, "openBrowser"],
    ["client credentials without a client id", { mcpUrl: "http://127.0.0.1:1/mcp", grant: "client_credentials" }, "grant"],
    ["client credentials with an id but no secret or key", { mcpUrl: "http://127.0.0.1:1/mcp", grant: "client_credentials", clientId: "c" }, "grant"],
    ["an unknown grant", { mcpUrl: "http://127.0.0.1:1/mcp", grant: "password" }, "grant"],
    ["a secret and a private key together", { mcpUrl: "http://127.0.0.1:1/mcp", clientId: "c", clientSecret: "s", privateKey: "k" }, "privateKey"],
    ["a signing algorithm without a key", { mcpUrl: "http://127.0.0.1:1/mcp", clientId: "c", signingAlgorithm: "ES256" }, "signingAlgorithm"],
    ["enterprise-managed without an identity provider", { mcpUrl: "http://127.0.0.1:1/mcp", clientId: "c", grant: "enterprise_managed" }, "identityProvider"],
    [
      "an identity provider without the enterprise-managed grant",
      { mcpUrl: "http://127.0.0.1:1/mcp", clientId: "c", identityProvider: { tokenEndpoint: "https://idp.example.com/token", clientId: "i", idToken: "t" } },
      "identityProvider",
    ],
  ];
  for (const [name, options, option] of cases) {
    it(`rejects ${name}, naming the option`, () => {
      const error = optionError(options);
      expect(error.code).toBe("invalid_options");
      expect(error.message).toContain(`\`${option}\``);
    });
  }

  it("accepts scopes as a string or a list and a URL object", () => {
    const tokenStorage = new Keyv();
    expect(() => new OAuth({ mcpUrl: new URL("https://mcp.example.com/mcp"), scopes: "read write", tokenStorage })).not.toThrow();
    expect(() => new OAuth({ mcpUrl: "https://mcp.example.com/mcp", scopes: ["read", "write"], tokenStorage })).not.toThrow();
  });

  it("reads PEM keys at construction and never echoes a bad one", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRETMATERIAL\n-----END PRIVATE KEY-----";
    const error = optionError({ mcpUrl: "http://127.0.0.1:1/mcp", clientId: "c", privateKey: pem });
    expect(error.message).toContain("`privateKey`");
    expect(JSON.stringify({ message: error.message, stack: error.stack, cause: String(error.cause) })).not.toContain("SECRETMATERIAL");
  });

  it("refuses an algorithm that does not suit the key", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const base = { mcpUrl: "http://127.0.0.1:1/mcp", clientId: "c", grant: "client_credentials" };
    expect(optionError({ ...base, privateKey: ec, signingAlgorithm: "RS256" }).message).toContain("`signingAlgorithm`");
    expect(optionError({ ...base, privateKey: rsa, signingAlgorithm: "ES256" }).message).toContain("`signingAlgorithm`");
    expect(() => new OAuth({ ...base, grant: "client_credentials", privateKey: rsa, signingAlgorithm: "PS384", tokenStorage: new Keyv() })).not.toThrow();
  });

  it("warns once that the default store is in memory", async () => {
    // A fresh copy of the modules: the store and its warning are per process, and another test file
    // sharing this module graph (the mutation runs share one) may have made the store already.
    vi.resetModules();
    const { OAuth: FreshOAuth } = await import("../src/index.js");
    const lines: string[] = [];
    const logger = { warn: (line: string) => void lines.push(line) };
    new FreshOAuth({ mcpUrl: "https://a.example.com/mcp", logger });
    new FreshOAuth({ mcpUrl: "https://b.example.com/mcp", logger });
    expect(lines.filter((line) => line.includes("in-memory token storage"))).toHaveLength(1);
  });
});
