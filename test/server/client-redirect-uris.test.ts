import { describe, expect, it } from "vitest";
import { InMemoryOAuthProvider, type RegisteredClient } from "../../src/server/index.js";
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
