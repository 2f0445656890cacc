import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The venv `npm run setup:interop` makes (and .ci/run runs): py-key-value, cryptography and fastmcp from pip. */
export const interopVenv = fileURLToPath(new URL("../../.venv-interop/bin/python", import.meta.url));
export const interopScript = fileURLToPath(new URL("./fernet_interop.py", import.meta.url));

/** The first Python that can import every module, or why none could. */
export function findPython(modules: readonly string[]): { python: string | undefined; reason: string } {
  const candidates = [process.env.MCP_OAUTH_PYTHON, existsSync(interopVenv) ? interopVenv : undefined, "python3", "/usr/bin/python3"].filter(
    (candidate): candidate is string => Boolean(candidate),
  );
  for (const python of candidates) {
    try {
      execFileSync(python, ["-c", modules.map((name) => `import ${name}`).join("; ")], { stdio: "ignore", timeout: 10_000 });
      return { python, reason: "" };
    } catch {
      // try the next one
    }
  }
  return { python: undefined, reason: `no Python among ${candidates.join(", ")} imports ${modules.join(", ")} (run \`npm run setup:interop\`)` };
}

const found = new Map<string, string>();

/**
 * The Python `findPython` picks for these modules, or an error saying why there is none. Remembered per
 * module list: importing a package as large as fastmcp takes seconds, and every session would pay it.
 */
export function requirePython(modules: readonly string[]): string {
  const key = modules.join(",");
  const known = found.get(key);
  if (known) return known;
  const { python, reason } = findPython(modules);
  if (!python) throw new Error(reason);
  found.set(key, python);
  return python;
}

export function runPython<T>(python: string, request: unknown): T {
  const output = execFileSync(python, [interopScript], { input: JSON.stringify(request), encoding: "utf8", timeout: 20_000 });
  return JSON.parse(output) as T;
}
