import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A self-signed certificate for `names` (and 127.0.0.1), made by the machine's `openssl` for one test
 * run: a loopback HTTPS server presents it, and the code under test trusts it as its only CA, never
 * through a global switch such as NODE_TLS_REJECT_UNAUTHORIZED.
 */
export function testCertificate(names: string[]): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "mcp-oauth-cert-"));
  try {
    const alt = [...names.map((name) => `DNS:${name}`), "IP:127.0.0.1"].join(",");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${names[0] ?? "localhost"}`, "-addext", `subjectAltName=${alt}`, "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      { stdio: ["ignore", "ignore", "pipe"], timeout: 20_000 },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
