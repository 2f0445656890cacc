/**
 * The user's browser, for every client of the matrix. It walks an authorization URL over HTTP as a person
 * clicking through would: follows redirects with a cookie jar, fills a login form (any user name and
 * password), approves a consent form, and finally requests the client's `redirect_uri` with the code, so
 * that the client's own loopback callback server receives it. Clients in other processes reach it
 * through `endpoint` (a `BROWSER` command or a patched `webbrowser.open` requests `endpoint?url=...`).
 */
import { listenLocal } from "../support/local-server.js";

export interface InteropBrowser {
  /** Walks `url` to the client's redirect URI; resolves once the callback was delivered. */
  open(url: string): Promise<void>;
  /** `GET <endpoint>?url=<authorization URL>` starts `open(url)` and answers 204 at once. */
  readonly endpoint: string;
  /** Every authorization URL opened, in order. */
  readonly opened: string[];
  /** Failures of walks started through `endpoint` (nobody else awaits them). */
  readonly failures: string[];
  close(): Promise<void>;
}

const maxHops = 20;

export async function startBrowser(): Promise<InteropBrowser> {
  const opened: string[] = [];
  const failures: string[] = [];
  const open = async (url: string) => {
    opened.push(url);
    await walk(url);
  };
  const server = await listenLocal((request, response) => {
    const target = new URL(request.url ?? "/", "http://127.0.0.1").searchParams.get("url");
    if (!target) return void response.writeHead(400).end("url missing");
    response.writeHead(204).end();
    open(target).catch((error: unknown) => failures.push(`${target}: ${String(error)}`));
  });
  return { open, opened, failures, endpoint: `${server.origin}/open`, close: server.close };
}

/** Follows the authorization URL until it redirects to its own `redirect_uri`, then delivers that redirect. */
async function walk(start: string): Promise<void> {
  const redirectUri = new URL(start).searchParams.get("redirect_uri");
  if (!redirectUri) throw new Error(`no redirect_uri in ${start}`);
  const jar = new Map<string, string>();
  let request: { url: string; init: RequestInit } = { url: start, init: {} };
  for (let hop = 0; hop < maxHops; hop += 1) {
    if (isRedirectUri(request.url, redirectUri)) {
      // The client's loopback server: what it answers is the client's business, not the walk's.
      const page = await fetch(request.url);
      await page.body?.cancel();
      return;
    }
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const headers = new Headers(request.init.headers);
    if (cookie) headers.set("cookie", cookie);
    const response = await fetch(request.url, { ...request.init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      if (at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      request = { url: new URL(location, request.url).href, init: {} };
      continue;
    }
    const body = await response.text();
    const form = response.ok ? firstForm(body, request.url) : undefined;
    if (!form) throw new Error(`the walk stopped at ${request.url}: ${response.status} ${body.slice(0, 300)}`);
    request = {
      url: form.action,
      init: {
        method: form.method,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(request.url).origin },
        body: new URLSearchParams(form.fields).toString(),
      },
    };
    if (form.method === "GET") request = { url: `${form.action}${form.action.includes("?") ? "&" : "?"}${request.init.body as string}`, init: {} };
  }
  throw new Error(`no redirect to ${redirectUri} after ${maxHops} hops from ${start}`);
}

function isRedirectUri(url: string, redirectUri: string): boolean {
  const a = new URL(url);
  const b = new URL(redirectUri);
  return a.origin === b.origin && a.pathname === b.pathname;
}

interface Form {
  action: string;
  method: "GET" | "POST";
  fields: [string, string][];
}

/**
 * The page's first form, filled in as a consenting user would: hidden fields kept, a user name and
 * password typed into text inputs, and the approving submit button pressed (the first one that does not
 * say deny, cancel or abort).
 */
function firstForm(html: string, pageUrl: string): Form | undefined {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!match) return undefined;
  const attributes = match[1] ?? "";
  const inner = match[2] ?? "";
  const action = new URL(decode(attribute(attributes, "action") ?? pageUrl), pageUrl).href;
  const method = (attribute(attributes, "method") ?? "get").toUpperCase() === "POST" ? "POST" : "GET";
  const fields: [string, string][] = [];
  for (const input of inner.matchAll(/<input\b([^>]*)>/gi)) {
    const name = attribute(input[1] ?? "", "name");
    if (!name) continue;
    const type = (attribute(input[1] ?? "", "type") ?? "text").toLowerCase();
    const value = decode(attribute(input[1] ?? "", "value") ?? "");
    if (type === "hidden") fields.push([name, value]);
    else if (type === "password") fields.push([name, "interop-password"]);
    else if (type === "text" || type === "email") fields.push([name, value || "interop-user"]);
    else if (type === "checkbox" && /\bchecked\b/i.test(input[1] ?? "")) fields.push([name, value || "on"]);
  }
  for (const button of inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
    const label = `${attribute(button[1] ?? "", "value") ?? ""} ${button[2] ?? ""}`;
    if (/deny|cancel|abort|reject/i.test(label)) continue;
    const name = attribute(button[1] ?? "", "name");
    if (name) fields.push([name, decode(attribute(button[1] ?? "", "value") ?? "")]);
    break;
  }
  return { action, method, fields };
}

function attribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(attributes);
  return match ? (match[1] ?? match[2] ?? match[3]) : undefined;
}

function decode(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&#x2F;|&#47;/g, "/")
    .replace(/&amp;/g, "&");
}
