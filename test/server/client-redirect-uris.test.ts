import { describe, expect, it } from "vitest";
import { InMemoryOAuthProvider, type RegisteredClient } from "../../src/server/index.js";
import { matchRedirectUri, redirectUriProblem } from "../../src/server/redirect-uri.js";
import { pkce, preRegistered } from "./support.js";

const base = "http://127.0.0.1:1";
const client = (redirect_uris: string[], extra: Partial<RegisteredClient> = {}) => preRegistered("c", { redirect_uris, ...extra });

describe("redirect URIs of clients that did not come through /register (S6)", () => {
  const dangerous = ["javascript:alert(document.domain)//", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd", "http://evil.example/cb", "com.example.app:/cb"];

  for (const uri of dangerous) {
    it(`a pre-registered client with the redirect URI ${uri} is refused at construction`, () => {
      expect(() => new InMemoryOAuthProvider({ baseUrl: base, clients: [client([uri])] })).toThrow(/`clients\.0\.redirect_uris\.0`/);
    });
  }

  it("a pre-registered native client may use a private-use scheme", () => {
    expect(() => new InMemoryOAuthProvider({ baseUrl: base, clients: [client(["com.example.app:/cb"], { application_type: "native" })] })).not.toThrow();
  });

  it("a client from getClient with a dangerous redirect URI gets the error page at /authorize, never a redirect", async () => {
    let served: RegisteredClient = client(["http://127.0.0.1/cb"]);
    class FromElsewhere extends InMemoryOAuthProvider {
      override async getClient(): Promise<RegisteredClient> {
        return served;
      }
    }
    const provider = new FromElsewhere({ baseUrl: base, autoApprove: true });
    for (const uri of dangerous) {
      served = client([uri]);
      const query = new URLSearchParams({ client_id: "c", response_type: "code", redirect_uri: uri, code_challenge: pkce().challenge, code_challenge_method: "S256" });
      const response = await provider.handle(new Request(`${base}/authorize?${query}`));
      expect(response.status, uri).toBe(400);
      expect(response.headers.get("location"), uri).toBeNull();
      expect(await response.text()).toContain("<code>invalid_request</code>");
    }
  });
});

describe("redirectUriProblem and matchRedirectUri, one rule at a time", () => {
  it("refuses credentials (user or password alone too) and a fragment, even an empty one", () => {
    for (const uri of ["https://user:pw@app.example/cb", "https://user@app.example/cb", "https://:pw@app.example/cb"]) expect(redirectUriProblem(uri, undefined)).toBe("must not contain credentials");
    for (const uri of ["https://app.example/cb#", "https://app.example/cb#x"]) expect(redirectUriProblem(uri, undefined)).toBe("must not contain a fragment");
    expect(redirectUriProblem("https://app.example/cb", undefined)).toBeUndefined();
  });

  it("names a browser-dangerous scheme as such, for native clients too (the reverse-domain rule would refuse them less clearly)", () => {
    for (const scheme of ["javascript:", "data:", "file:", "vbscript:", "blob:", "about:", "filesystem:"]) {
      for (const type of ["native", "web"] as const) expect(redirectUriProblem(`${scheme}x`, type)).toBe(`uses the forbidden scheme ${scheme}`);
    }
  });

  it("a request's redirect URI that is not a URI matches nothing (no exception)", () => {
    expect(matchRedirectUri("not a uri", ["http://127.0.0.1/cb"])).toBeUndefined();
  });

  it("the loopback port exception needs a loopback http: URI registered: an https: or unparseable one is never matched by a loopback request", () => {
    expect(matchRedirectUri("http://127.0.0.1:5000/cb", ["https://app.example/cb"])).toBeUndefined();
    expect(matchRedirectUri("http://127.0.0.1:5000/cb", ["https://127.0.0.1/cb"])).toBeUndefined();
    expect(matchRedirectUri("http://127.0.0.1:5000/cb", ["not a uri"])).toBeUndefined();
    expect(matchRedirectUri("http://127.0.0.1:5000/cb", ["not a uri", "http://127.0.0.1/cb"])).toBe("http://127.0.0.1/cb");
  });
});
