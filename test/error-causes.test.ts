/**
 * `OAuthError` itself: its fields and defaults, `isOAuthError`, and the cause chain it keeps. Each link of
 * that chain is a copy holding only the name, the message (a JSON parser's replaced, as it quotes what it
 * read), a string or number `code` and the original stack frames under the kept message; the chain stops
 * after 8 links, so a cause that loops cannot hang the copy; an error without a cause gets no `cause`
 * property, so printing it shows none.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { isOAuthError, OAuthError } from "../src/shared/errors.js";

const TOKEN = "AT-SECRET-c4e1f07a";

/** The links of an error's cause chain, the error itself first (bounded, whatever the chain). */
function chain(error: Error): Error[] {
  const links: Error[] = [];
  for (let link: unknown = error; link instanceof Error && links.length < 50; link = link.cause) links.push(link);
  return links;
}

/** What a JSON parser throws on `text`. */
function parseError(text: string): SyntaxError {
  try {
    JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return error;
  }
  return expect.fail(`${text} parsed`);
}

describe("OAuthError", () => {
  it("carries its name, code, message and details; transient only when said", () => {
    const plain = new OAuthError("refresh_failed", "refreshing failed");
    expect(plain.name).toBe("OAuthError");
    expect(String(plain)).toBe("OAuthError: refreshing failed");
    expect(plain.code).toBe("refresh_failed");
    expect(plain.transient).toBe(false);
    expect(plain.status).toBeUndefined();
    expect(plain.oauthError).toBeUndefined();
    const detailed = new OAuthError("refresh_failed", "refreshing failed", { status: 503, oauthError: "temporarily_unavailable", transient: true });
    expect(detailed.transient).toBe(true);
    expect(detailed.status).toBe(503);
    expect(detailed.oauthError).toBe("temporarily_unavailable");
    expect(new OAuthError("refresh_failed", "x", { transient: false }).transient).toBe(false);
  });

  it("without a cause (or with one that is not an error) it has no cause property, so none is printed", () => {
    for (const error of [new OAuthError("unauthorized", "x"), new OAuthError("unauthorized", "x", { cause: { access_token: TOKEN } })]) {
      expect(Object.hasOwn(error, "cause")).toBe(false);
      expect(inspect(error)).not.toContain("[cause]");
    }
  });

  it("isOAuthError tells OAuthErrors, and with a code only those of that code", () => {
    const error = new OAuthError("aborted", "x");
    expect(isOAuthError(error)).toBe(true);
    expect(isOAuthError(error, "aborted")).toBe(true);
    expect(isOAuthError(error, "refresh_failed")).toBe(false);
    // Look-alikes are not OAuthErrors, whatever their code.
    const lookalike = Object.assign(new Error("x"), { name: "OAuthError", code: "aborted" });
    for (const value of [lookalike, { code: "aborted" }, undefined, "aborted"]) {
      expect(isOAuthError(value)).toBe(false);
      expect(isOAuthError(value, "aborted")).toBe(false);
    }
  });
});

describe("the cause chain", () => {
  it("an OAuthError cause is kept as it is", () => {
    const inner = new OAuthError("refresh_failed", "inner", { transient: true });
    expect(new OAuthError("unauthorized", "outer", { cause: inner }).cause).toBe(inner);
  });

  it("each link is a copy with the name and message, not the object foreign code attached things to", () => {
    const foreign = Object.assign(new RangeError("the store is full"), { body: { access_token: TOKEN } });
    const error = new OAuthError("storage_failed", "x", { cause: foreign });
    const cause = error.cause as Error;
    expect(cause).not.toBe(foreign);
    expect(cause.name).toBe("RangeError");
    expect(cause.message).toBe("the store is full");
    expect(cause).not.toHaveProperty("body");
    // The last link has no cause property of its own either.
    expect(Object.hasOwn(cause, "cause")).toBe(false);
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(TOKEN);
  });

  it("a JSON parser's message is replaced: it quotes the text it failed on", () => {
    const foreign = parseError(`${TOKEN} was sent`);
    expect(foreign.message).toContain(TOKEN.slice(0, 6)); // the premise: V8 quotes the text
    const error = new OAuthError("storage_failed", "x", { cause: foreign });
    const cause = error.cause as Error;
    expect(cause.name).toBe("SyntaxError");
    expect(cause.message).toBe("the response is not valid JSON");
    expect(cause.stack?.split("\n")[0]).toBe("SyntaxError: the response is not valid JSON");
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(TOKEN.slice(0, 6));
  });

  it("keeps a string or number code, enumerable (JSON shows it), and drops any other", () => {
    const stringCode = new OAuthError("storage_failed", "x", { cause: Object.assign(new Error("refused"), { code: "ECONNREFUSED" }) }).cause;
    expect(stringCode).toHaveProperty("code", "ECONNREFUSED");
    expect(JSON.stringify(stringCode)).toBe(`{"name":"Error","code":"ECONNREFUSED"}`);
    // A DOMException's code is a number (23 for a timeout), read from its prototype.
    const numberCode = new OAuthError("storage_failed", "x", { cause: new DOMException("timed out", "TimeoutError") }).cause;
    expect(numberCode).toHaveProperty("code", 23);
    expect(JSON.stringify(numberCode)).toBe(`{"name":"TimeoutError","code":23}`);
    for (const code of [{ token: TOKEN }, [TOKEN], true, undefined]) {
      const copy = new OAuthError("storage_failed", "x", { cause: Object.assign(new Error("failed"), { code }) }).cause as Error;
      expect(Object.hasOwn(copy, "code")).toBe(false);
      expect(JSON.stringify(copy)).toBe(`{"name":"Error"}`);
    }
  });

  it("keeps the original frames under the kept message, and only frames", () => {
    const foreign = new RangeError("the store is full");
    const cause = new OAuthError("storage_failed", "x", { cause: foreign }).cause as Error;
    const frames = (foreign.stack ?? "").split("\n").filter((line) => line.startsWith("    at "));
    expect(frames.length).toBeGreaterThan(0);
    expect(cause.stack).toBe(["RangeError: the store is full", ...frames].join("\n"));
    expect(cause.stack).toContain("error-causes.test.ts");
  });

  it("a parser error's frames come without the text it quoted", () => {
    const foreign = parseError(`${TOKEN}!`);
    const stack = (new OAuthError("storage_failed", "x", { cause: foreign }).cause as Error).stack ?? "";
    expect(stack).not.toContain(TOKEN.slice(0, 6));
    expect(stack.split("\n").slice(1)).toEqual((foreign.stack ?? "").split("\n").filter((line) => line.startsWith("    at ")));
    expect(stack).toContain("    at JSON.parse");
  });

  it("a parser message that spans lines looking like frames leaves none of them in the copy", () => {
    // V8 quotes the input unescaped: input holding "\n    at <secret>" puts a fake frame into the header.
    const foreign = new SyntaxError(`Unexpected token in JSON: "x\n    at ${TOKEN}"`);
    const stack = (new OAuthError("storage_failed", "x", { cause: foreign }).cause as Error).stack ?? "";
    expect(stack).not.toContain(TOKEN);
    expect(stack).toContain("    at ");
  });

  it("an error without a stack gets just its header", () => {
    const foreign = new Error("no stack");
    delete foreign.stack;
    expect((new OAuthError("storage_failed", "x", { cause: foreign }).cause as Error).stack).toBe("Error: no stack");
  });

  it("is cut after 8 links", () => {
    let deepest: Error = new Error("link 12");
    for (let n = 11; n >= 1; n -= 1) deepest = new Error(`link ${n}`, { cause: deepest });
    const links = chain(new OAuthError("internal_error", "x", { cause: deepest }));
    expect(links.map((link) => link.message)).toEqual(["x", "link 1", "link 2", "link 3", "link 4", "link 5", "link 6", "link 7", "link 8"]);
    expect(Object.hasOwn(links.at(-1) as Error, "cause")).toBe(false);
  });

  it("a chain of exactly 8 is kept whole", () => {
    let deepest: Error = new Error("link 8");
    for (let n = 7; n >= 1; n -= 1) deepest = new Error(`link ${n}`, { cause: deepest });
    expect(chain(new OAuthError("internal_error", "x", { cause: deepest })).length).toBe(9);
  });

  it("a cause that loops is copied 8 links deep and the copy ends", () => {
    const looping = new Error("again");
    looping.cause = looping;
    const links = chain(new OAuthError("internal_error", "x", { cause: looping }));
    expect(links.length).toBe(9);
    expect(new Set(links).size).toBe(9);
  });
});
