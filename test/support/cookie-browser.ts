/**
 * A browser stand-in for authorization servers that keep the login in cookies (oidc-provider): follows
 * redirects by hand with a cookie jar, until the redirect lands on the library's loopback callback.
 */
export function cookieBrowser(): { open: (url: string) => Promise<void>; opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    open: async (start: string) => {
      opened.push(start);
      const jar = new Map<string, string>();
      let url = start;
      // Not awaited by the flow, like a real browser; a failure shows up as a callback timeout.
      void (async () => {
        for (let hop = 0; hop < 15; hop += 1) {
          const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
          const response = await fetch(url, { redirect: "manual", headers: cookie ? { cookie } : {} });
          for (const line of response.headers.getSetCookie()) {
            const [pair = ""] = line.split(";");
            const at = pair.indexOf("=");
            if (at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
          }
          await response.body?.cancel();
          const location = response.headers.get("location");
          if (response.status < 300 || response.status >= 400 || !location) return;
          url = new URL(location, url).href;
        }
      })().catch(() => undefined);
    },
  };
}
