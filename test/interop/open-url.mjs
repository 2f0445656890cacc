#!/usr/bin/env node
/* global process, fetch, console */
// A `BROWSER` command for clients in other processes: hands the URL to the matrix's browser stand-in
// (test/interop/browser.ts), whose address is in INTEROP_BROWSER_ENDPOINT.
const endpoint = process.env.INTEROP_BROWSER_ENDPOINT;
const url = process.argv[2];
if (!endpoint || !url) {
  console.error("usage: INTEROP_BROWSER_ENDPOINT=<endpoint> open-url.mjs <url>");
  process.exit(2);
}
const response = await fetch(`${endpoint}?url=${encodeURIComponent(url)}`);
process.exit(response.status === 204 ? 0 : 1);
