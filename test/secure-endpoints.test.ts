/**
 * `assertSecureEndpoint`, the rule every discovered authorization-server URL passes before use, and
 * `isLoopbackHost`, the loopback test it (without network rules) and the authorization server's
 * redirect-URI checks rely on. Proves: only `https:` and (on loopback, as the rules say) `http:` pass;
 * any other scheme is refused even on a loopback host; a string that is not a URL is insecure_endpoint
 * with its parse error as cause; the refusal says which rule applied and shows only scheme and host;
 * 127.0.0.0/8 in full, `localhost` and `::1` are loopback, and a name that merely starts or ends like a
 * loopback address is not. Pure functions: no network.
 */
import { describe, expect, it } from "vitest";
import { assertSecureEndpoint, isLoopbackHost, type HttpRules } from "../src/shared/back-channel.js";
import { isOAuthError, type OAuthError } from "../src/index.js";

function refusal(run: () => unknown): OAuthError {
  try {
    run();
  } catch (error) {
    if (isOAuthError(error, "insecure_endpoint")) return error;
    throw new Error(`expected insecure_endpoint, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected insecure_endpoint, but the URL was accepted");
}

const loopbackMcp: HttpRules = { mcpUrl: new URL("http://127.0.0.1:9/mcp"), allowInsecureHttp: false };
const remoteMcp: HttpRules = { mcpUrl: new URL("https://mcp.example.com/mcp"), allowInsecureHttp: false };

describe("assertSecureEndpoint", () => {
  it("returns the parsed URL for https: anywhere and for http: on a loopback host", () => {
    expect(assertSecureEndpoint("https://as.example.com/token", "token_endpoint").href).toBe("https://as.example.com/token");
    expect(assertSecureEndpoint("http://127.0.0.1:9/token", "token_endpoint").href).toBe("http://127.0.0.1:9/token");
    expect(assertSecureEndpoint("http://127.0.0.1:9/token", "token_endpoint", loopbackMcp).href).toBe("http://127.0.0.1:9/token");
  });

  it.each(["ftp://127.0.0.1/token", "ws://localhost/token", "file://127.0.0.1/etc/passwd", "gopher://[::1]/x"])(
    "refuses %s: a scheme other than http(s) is refused even on a loopback host",
    (url) => {
      refusal(() => assertSecureEndpoint(url, "token_endpoint"));
      refusal(() => assertSecureEndpoint(url, "token_endpoint", loopbackMcp));
      refusal(() => assertSecureEndpoint(url, "token_endpoint", { ...remoteMcp, allowInsecureHttp: true }));
    },
  );

  it("a string that is not a URL is insecure_endpoint naming what it is, with the parse error as cause", () => {
    const error = refusal(() => assertSecureEndpoint("not a url", "resource_metadata URL"));
    expect(error.message).toBe("resource_metadata URL is not a valid URL");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("without network rules, the refusal says http: is for loopback hosts, showing only scheme and host", () => {
    const error = refusal(() => assertSecureEndpoint("http://as.example.com:8080/token?secret=QUERY-SECRET", "token_endpoint"));
    expect(error.message).toBe("token_endpoint must use https: (http: is allowed only on loopback hosts), got http://as.example.com:8080");
  });

  it("with network rules, the refusal says which combinations allow http:", () => {
    const error = refusal(() => assertSecureEndpoint("http://127.0.0.1:9/token", "token_endpoint", remoteMcp));
    expect(error.message).toBe(
      "token_endpoint must use https: (http: is allowed only when this host and the MCP URL's are both loopback, or on a loopback host with allowInsecureHttp), got http://127.0.0.1:9",
    );
  });
});

describe("isLoopbackHost", () => {
  it.each(["localhost", "127.0.0.1", "127.0.0.2", "127.1.2.3", "127.10.20.30", "127.255.255.255", "[::1]", "::1", new URL("http://[::1]:9/").hostname])(
    "%s is loopback",
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );

  it.each(["127.0.0.1.evil.example", "127.0.0.1.nip.io", "1127.0.0.1", "10.127.0.0.1", "127.0.0", "127.a.b.c", "127.1000.0.1", "example.com", "[::2]", ""])(
    "%s is not loopback",
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );

  it("an http: URL on a name that only starts like a loopback address is refused", () => {
    refusal(() => assertSecureEndpoint("http://127.0.0.1.evil.example/token", "token_endpoint"));
  });
});
