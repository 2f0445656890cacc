import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * The in-process test set for mutation testing (`npm run test:mutation`, test/mutation/run.ts), apart from
 * `npm test`.
 *
 * Stryker's per-test coverage is collected inside the vitest worker, so a test file that drives the client
 * in a child process (Python peers, Node 22 peers, Chromium, the OAuth workers, the interop matrix) adds
 * minutes without being able to kill a mutant it cannot see. Those files are left out here (they still run
 * in `npm test`): every test file that imports one of the helpers below that start such processes.
 * `MUTATION_TESTS` (comma-separated paths or globs, set by run.ts per module) narrows the set further to
 * the files that call into the module being mutated.
 */
const root = new URL("../..", import.meta.url).pathname;
const childProcessHelpers = /from "[./]*(?:support\/(?:python|chromium|node22|workers|oidc-peer-process|oidc-peer|store-replica)|interop\/[^"]*)\.js"/;

function childProcessTests(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, "test"), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".test.ts")) continue;
    const path = join(entry.parentPath, entry.name);
    if (childProcessHelpers.test(readFileSync(path, "utf8"))) found.push(path.slice(root.length));
  }
  return found;
}

const narrowed = process.env.MUTATION_TESTS?.split(",").map((glob) => glob.trim()).filter(Boolean);

export default defineConfig({
  test: {
    root,
    include: narrowed?.length ? narrowed : ["test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "test/interop/**", "test/conformance/**", ...childProcessTests()],
    // `run.ts` maps test files to modules with this setup file (inert unless MUTATION_MAP_DIR is set).
    setupFiles: process.env.MUTATION_MAP_DIR ? ["test/mutation/coverage-map-setup.ts"] : [],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Loopback servers and real ports, as in vitest.config.ts.
    fileParallelism: false,
    // One module graph for all test files of a run, and across Stryker's runs: with isolation, every mutant
    // re-imported the SDK and every src module once per test file, which was most of the time a mutant
    // took (imports 33 s of a 103 s run of this set, 4 s without). Stryker switches mutants at run time
    // (`globalThis.__stryker__`), so a cached module still runs the active mutant; only a mutant in
    // module-level code (a "static" mutant) is then tested against the module as first loaded, which can
    // make it survive but never makes it count as killed; stryker.config.mjs ignores those. MUTATION_ISOLATE=1
    // turns isolation back on (and static mutants with it).
    isolate: process.env.MUTATION_ISOLATE === "1",
  },
});
