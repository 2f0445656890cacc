/**
 * Browser stand-ins. They drive the real authorization server over HTTP: the server's redirect lands
 * on the library's real loopback callback server, exactly as a browser would deliver it.
 */
export function followRedirects(): { open: (url: string) => Promise<void>; opened: string[]; pages: Response[] } {
  const opened: string[] = [];
  const pages: Response[] = [];
  return {
    opened,
    pages,
    open: async (url: string) => {
      opened.push(url);
      // Not awaited by the flow's success path in a real browser either; errors surface through the callback.
      void fetch(url, { redirect: "follow" }).then(
        (page) => pages.push(page),
        () => undefined,
      );
    },
  };
}

/** An opener that never reaches the server: the user closed the tab. */
export function neverOpens(): { open: (url: string) => void; opened: string[] } {
  const opened: string[] = [];
  return { opened, open: (url: string) => void opened.push(url) };
}

/** Collects log lines so tests can assert warnings and the absence of secrets. */
export function captureLogger(): { warn: (message: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (message: string) => void lines.push(message) };
}
