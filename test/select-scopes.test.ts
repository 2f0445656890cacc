import { describe, expect, it } from "vitest";
import { selectScopes, type ScopeInputs } from "../src/flow/select-scopes.js";

const none: ScopeInputs = { challenged: undefined, configured: [], resourceScopes: undefined, serverScopes: undefined };

describe("scope selection (MCP 2025-11-25, SEP-835, SEP-2207)", () => {
  const cases: [string, Partial<ScopeInputs>, string | undefined][] = [
    ["the challenged scope", { challenged: "mcp:basic" }, "mcp:basic"],
    ["the challenged scope together with the configured ones", { challenged: "mcp:basic", configured: ["read"], resourceScopes: ["x"] }, "mcp:basic read"],
    ["the configured scopes when nothing is challenged, ignoring the resource's list", { configured: ["read", "write"], resourceScopes: ["x"] }, "read write"],
    ["all of the resource's scopes_supported with neither", { resourceScopes: ["mcp:basic", "mcp:read", "mcp:write"] }, "mcp:basic mcp:read mcp:write"],
    ["no scope parameter with none of them", {}, undefined],
    ["offline_access when the authorization server lists it", { resourceScopes: ["mcp:basic"], serverScopes: ["mcp:basic", "offline_access"] }, "mcp:basic offline_access"],
    ["no offline_access when it does not", { resourceScopes: ["mcp:basic"], serverScopes: ["mcp:basic", "mcp:read"] }, "mcp:basic"],
    ["no offline_access for a grant without refresh tokens", { resourceScopes: ["mcp:basic"], serverScopes: ["offline_access"], refreshable: false }, "mcp:basic"],
    ["the union with earlier requests on a step-up", { challenged: "mcp:basic mcp:write", previous: ["mcp:basic", "mcp:basic mcp:read"] }, "mcp:basic mcp:read mcp:write"],
  ];
  for (const [name, inputs, expected] of cases) {
    it(`selects ${name}`, () => expect(selectScopes({ ...none, ...inputs })).toBe(expected));
  }
});
