/**
 * RFC 7591 registration on its own (validateClientMetadata, handleRegister): each field's rule, what the
 * error says and which error code it gets, what is filled in, and the request's own form.
 */
import { describe, expect, it } from "vitest";
import { handleRegister, validateClientMetadata } from "../../src/server/handle-register.js";
import { OAuthServerError, type RegisteredClient } from "../../src/server/index.js";
import { resolveProviderOptions } from "../../src/server/options.js";
import { REDIRECT_URI } from "./support.js";

const o = resolveProviderOptions({ baseUrl: "http://127.0.0.1:1", clientRegistration: { enabled: true, validScopes: ["a", "b"] }, onError: () => undefined });
const base = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" };

function refusal(body: unknown): { error: string; description: string } {
  try {
    validateClientMetadata(body, o);
  } catch (error) {
    if (error instanceof OAuthServerError) return { error: error.error, description: error.description };
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

describe("validateClientMetadata", () => {
  it("refuses a body that is not a JSON object", () => {
    for (const body of [null, [], "client", 5]) expect(refusal(body)).toEqual({ error: "invalid_client_metadata", description: "the body must be a JSON object" });
  });

  it("names the field at fault, as invalid_redirect_uri for the redirect URIs", () => {
    expect(refusal({ ...base, redirect_uris: [] })).toEqual({ error: "invalid_redirect_uri", description: "redirect_uris: at least one redirect URI is required" });
    expect(refusal({ ...base, redirect_uris: [5] }).error).toBe("invalid_redirect_uri");
    expect(refusal({ ...base, redirect_uris: [5] }).description).toMatch(/^redirect_uris\.0: /);
    expect(refusal({ ...base, client_name: 5 }).error).toBe("invalid_client_metadata");
    expect(refusal({ ...base, client_name: 5 }).description).toMatch(/^client_name: \S/);
    const long = `http://evil.example/${"x".repeat(300)}`;
    expect(refusal({ ...base, redirect_uris: [long] }).description).toBe(`redirect URI ${JSON.stringify(long.slice(0, 200))} uses http: on a host that is not loopback`);
  });

  it("bounds every display field and list, and takes http(s) URIs only where a page links them", () => {
    for (const [field, ok, bad] of [
      ["client_uri", "http://app.example/", "ftp://app.example/"],
      ["logo_uri", "https://app.example/logo.png", "javascript:alert(1)"],
      ["tos_uri", `https://app.example/${"t".repeat(1900)}`, `https://app.example/${"t".repeat(2000)}`],
      ["client_name", "n".repeat(200), "n".repeat(201)],
      ["client_name", "n", ""],
      ["software_id", "s".repeat(200), "s".repeat(201)],
      ["software_version", "v", "v".repeat(201)],
      ["contacts", ["a@example.com"], Array.from({ length: 11 }, () => "a@example.com")],
      ["contacts", ["c".repeat(320)], ["c".repeat(321)]],
      ["grant_types", ["authorization_code", "refresh_token"], []],
      ["response_types", ["code"], []],
      ["application_type", "web", "desktop"],
      ["token_endpoint_auth_method", "client_secret_basic", "private_key_jwt"],
      ["token_endpoint_auth_method", "client_secret_post", "tls_client_auth"],
      ["application_type", "native", "mobile"],
    ] as const) {
      expect(() => validateClientMetadata({ ...base, [field]: ok }, o), `${field} ${JSON.stringify(ok).slice(0, 40)}`).not.toThrow();
      expect(refusal({ ...base, [field]: bad }).description, `${field} ${JSON.stringify(bad).slice(0, 40)}`).toMatch(new RegExp(`^${field}`));
    }
    expect(refusal({ ...base, client_uri: "ftp://app.example/" }).description).toBe("client_uri: must be an http(s) URI");
    expect(() => validateClientMetadata({ ...base, redirect_uris: Array.from({ length: 20 }, (_, i) => `http://127.0.0.1/cb${i}`) }, o)).not.toThrow();
  });

  it("grant and response types: authorization_code is required, only code is returned, and both default", () => {
    expect(refusal({ ...base, grant_types: ["refresh_token"] })).toEqual({ error: "invalid_client_metadata", description: "grant_types must include authorization_code" });
    for (const types of [["code", "token"], ["token", "code"]]) expect(refusal({ ...base, response_types: types }).description).toBe('only the response type "code" is supported');
    expect(validateClientMetadata(base, o)).toMatchObject({ grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] });
    expect(validateClientMetadata({ redirect_uris: [REDIRECT_URI] }, o).token_endpoint_auth_method).toBe("client_secret_basic");
  });

  it("scope: extra spaces are nothing, an unknown scope is named (at most 200 characters)", () => {
    expect(validateClientMetadata({ ...base, scope: " a  b " }, o).scope).toBe("a b");
    const unknown = Array.from({ length: 40 }, (_, i) => `unknown-${i}`);
    expect(refusal({ ...base, scope: `a ${unknown.join(" ")}` }).description).toBe(`scope not allowed: ${unknown.join(" ").slice(0, 200)}`);
  });
});

describe("handleRegister", () => {
  const register = async (body: string, type = "application/json", allow?: () => boolean) => {
    const options = allow ? { ...o, registration: { ...o.registration, allow } } : o;
    const stored: RegisteredClient[] = [];
    const request = new Request("http://127.0.0.1:1/register", { method: "POST", headers: { "content-type": type }, body });
    try {
      const response = await handleRegister(request, options, async (client) => void stored.push(client));
      return { status: response.status, stored };
    } catch (error) {
      if (error instanceof OAuthServerError) return { status: error.status, error: error.error, description: error.description, stored };
      throw error;
    }
  };

  it("takes JSON only, in any case and with parameters", async () => {
    expect(await register(JSON.stringify(base), "text/plain")).toMatchObject({ error: "invalid_client_metadata", description: "the body must be application/json" });
    expect(await register(JSON.stringify(base), "text/plain; x=application/json")).toMatchObject({ description: "the body must be application/json" });
    expect(await register(JSON.stringify(base), "Application/JSON; charset=utf-8")).toMatchObject({ status: 201 });
    expect(await register("{", "application/json")).toMatchObject({ error: "invalid_client_metadata", description: "the body is not valid JSON" });
  });

  it("a policy that says no is a 403, and nothing is stored", async () => {
    expect(await register(JSON.stringify(base), "application/json", () => false)).toEqual({ status: 403, error: "access_denied", description: "client registration refused by policy", stored: [] });
  });
});
