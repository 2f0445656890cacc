/**
 * /authorize on its own (handleAuthorize with stand-in deps, mintAuthorizationCode, authorizationResponseUrl):
 * what each refusal says, on the error page before the redirect URI is trusted and in the redirect after,
 * which scopes a request gets, resource indicators compared as URLs, and an approval that cannot widen.
 */
import { describe, expect, it } from "vitest";
import { authorizationResponseUrl, canonicalResource, handleAuthorize, mintAuthorizationCode, type AuthorizeDeps } from "../../src/server/handle-authorize.js";
import { OAuthServerError, type AuthorizationRequest, type RegisteredClient } from "../../src/server/index.js";
import { resolveProviderOptions } from "../../src/server/options.js";
import { pkce, preRegistered, REDIRECT_URI } from "./support.js";

const o = resolveProviderOptions({
  baseUrl: "http://127.0.0.1:1",
  clientRegistration: { enabled: true, validScopes: ["a", "b", "c"], defaultScopes: ["a"] },
  onError: () => undefined,
});
const { challenge } = pkce();
const clients: Record<string, RegisteredClient> = {
  plain: preRegistered("plain"),
  scoped: preRegistered("scoped", { scope: "a b" }),
  two: preRegistered("two", { redirect_uris: [REDIRECT_URI, "http://127.0.0.1:9/other"] }),
};
const requests: AuthorizationRequest[] = [];
const deps: AuthorizeDeps = {
  getClient: async (id) => clients[id],
  trustsRedirectUri: () => true,
  authorize: async (_client, request) => {
    requests.push(request);
    return "http://127.0.0.1:9/approved";
  },
};

async function authorize(params: Record<string, string | undefined>) {
  const url = new URL("http://127.0.0.1:1/authorize");
  const all = { response_type: "code", client_id: "plain", redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: "S256", state: "s", ...params };
  for (const [key, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(key, value);
  const response = await handleAuthorize(new Request(url), o, deps);
  const location = response.headers.get("location");
  const page = (await response.text()).replace(/&quot;/g, '"').replace(/&#x27;/g, "'");
  const error = location ? new URL(location).searchParams : undefined;
  return { status: response.status, location, referrer: response.headers.get("referrer-policy"), page, error: error?.get("error"), description: error?.get("error_description") };
}

describe("handleAuthorize: before the redirect URI is known, the error page says why", () => {
  it.each([
    [{ state: "x".repeat(2049) }, "state is longer than 2048 characters"],
    [{ client_id: undefined }, "the request has no client_id"],
    [{ client_id: `unknown-${"x".repeat(200)}` }, `no client is registered with the id "unknown-${"x".repeat(92)}"`],
    [{ client_id: "two", redirect_uri: undefined }, "the client registered several redirect URIs, so redirect_uri is required"],
    [{ redirect_uri: "http://127.0.0.1:9/elsewhere" }, "redirect_uri is not one the client registered"],
  ])("%j", async (params, why) => {
    const r = await authorize(params);
    expect(r.location).toBeNull();
    expect(r.page).toContain(`: ${why}</p>`);
  });

  it("a client whose one redirect URI is used without redirect_uri gets there", async () => {
    expect((await authorize({ redirect_uri: undefined })).location).toBe("http://127.0.0.1:9/approved");
  });

  it("a registered redirect URI that breaks the rules (a provider's own store) is refused by name", async () => {
    clients.bad = preRegistered("bad", { redirect_uris: ["http://evil.example/cb"] });
    const r = await authorize({ client_id: "bad", redirect_uri: "http://evil.example/cb" });
    expect(r.page).toContain(": the client's redirect URI uses http: on a host that is not loopback</p>");
  });
});

describe("handleAuthorize: after it, the error goes back to a trusted redirect URI with its description", () => {
  it.each([
    [{ response_type: undefined }, "invalid_request", "response_type is required"],
    [{ response_type: "token" }, "unsupported_response_type", 'only response_type "code" is supported'],
    [{ code_challenge: undefined, code_challenge_method: undefined }, "invalid_request", "code_challenge is required: PKCE with S256"],
    [{ code_challenge_method: "plain" }, "invalid_request", "code_challenge_method must be S256"],
    [{ code_challenge: "short" }, "invalid_request", "code_challenge is not an S256 challenge (43 base64url characters)"],
    [{ resource: "http://127.0.0.1:1/mcp#x" }, "invalid_target", "resource must be an absolute URI without a fragment"],
    [{ resource: "http://127.0.0.1:2/mcp" }, "invalid_target", "this server issues tokens only for its own MCP endpoint"],
  ])("%j", async (params, error, description) => {
    const r = await authorize(params);
    expect([r.error, r.description]).toEqual([error, description]);
    expect(r.referrer).toBe("no-referrer");
  });

  it("a scope beyond the client's is refused, named (at most 200 characters)", async () => {
    const long = Array.from({ length: 40 }, (_, i) => `s${i}-${"x".repeat(5)}`);
    const r = await authorize({ client_id: "scoped", scope: `a c ${long.join(" ")}` });
    expect(r.error).toBe("invalid_scope");
    expect(r.description).toBe(`scope not allowed for this client: ${["c", ...long].join(" ").slice(0, 200)}`);
  });
});

describe("handleAuthorize: the scopes a request gets", () => {
  const granted = async (params: Record<string, string | undefined>) => {
    requests.length = 0;
    expect((await authorize(params)).location).toBe("http://127.0.0.1:9/approved");
    return requests[0]?.scopes;
  };

  it("a client without a registered scope: any supported scope it asks for, else the server's defaults", async () => {
    expect(await granted({ scope: "b c" })).toEqual(["b", "c"]);
    expect(await granted({})).toEqual(["a"]);
  });

  it("a client with one: what it asks for within it, else all of it", async () => {
    expect(await granted({ client_id: "scoped", scope: "b" })).toEqual(["b"]);
    expect(await granted({ client_id: "scoped" })).toEqual(["a", "b"]);
  });

  it("a resource with a trailing slash is the same resource", async () => {
    expect(canonicalResource("http://127.0.0.1:1/mcp/")).toBe("http://127.0.0.1:1/mcp");
    expect(await granted({ resource: "http://127.0.0.1:1/mcp/" })).toEqual(["a"]);
  });
});

describe("the authorization response", () => {
  const request: AuthorizationRequest = { clientId: "plain", redirectUri: REDIRECT_URI, redirectUriProvidedExplicitly: true, scopes: ["a"], state: undefined, codeChallenge: challenge, resource: o.resource };

  it("carries state only when the request had one, and iss always", () => {
    expect(new URL(authorizationResponseUrl(REDIRECT_URI, { code: "x" }, undefined, o.issuer)).searchParams.has("state")).toBe(false);
    expect(Object.fromEntries(new URL(authorizationResponseUrl(REDIRECT_URI, { code: "x" }, "s", o.issuer)).searchParams)).toEqual({ code: "x", state: "s", iss: o.issuer });
  });

  it("an approval may narrow the scopes, never widen them; claims are carried", () => {
    const widened = (() => {
      try {
        return mintAuthorizationCode(request, { subject: "u", scopes: ["a", "b", "c"] }, o);
      } catch (error) {
        return error;
      }
    })();
    expect(widened).toBeInstanceOf(OAuthServerError);
    expect(widened).toMatchObject({ error: "invalid_scope", description: "approval grants scopes that were not requested: b c" });
    expect(mintAuthorizationCode(request, { subject: "u", scopes: [] }, o).record.scopes).toEqual([]);
    expect(mintAuthorizationCode(request, { subject: "u", claims: { team: "x" } }, o).record.claims).toEqual({ team: "x" });
  });
});
