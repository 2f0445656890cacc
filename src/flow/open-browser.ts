import { assertSecureEndpoint } from "../shared/back-channel.js";

/**
 * MCP security best practices: only `https:` (or `http:` on loopback) authorization URLs are opened, so a
 * hostile `authorization_endpoint` cannot make the OS run `file:`, `javascript:` or a custom scheme.
 */
export function assertBrowsableUrl(url: string): URL {
  return assertSecureEndpoint(url, "authorization URL");
}

/**
 * The default opener: the system browser through the `open` package, which spawns the platform's opener
 * with the URL as one argument and never through a shell. When no browser can be started (a headless
 * host, a container) the URL goes to stderr so the user can open it by hand.
 */
export async function openSystemBrowser(authorizationUrl: string): Promise<void> {
  const printUrl = () => process.stderr.write(`\nOpen this URL in a browser to authorize access:\n\n  ${authorizationUrl}\n\n`);
  try {
    const { default: open } = await import("open");
    const child = await open(authorizationUrl);
    child.once("error", printUrl);
    child.once("exit", (code) => {
      if (code) printUrl();
    });
    child.unref();
  } catch {
    printUrl();
  }
}
