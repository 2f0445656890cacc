/**
 * `npm run test:mutation [-- <module>...] [--force] [--refresh-map | --keep-map] [--map-only]`
 *
 * Mutation testing with StrykerJS, one module per Stryker run (Stryker's per-test coverage and its dry run
 * stay small that way). With no module, every module of `modules` below that exists, in that order (the most
 * security-critical first). A module is `authorize`, `flow/authorize`, `authorize.ts` or `src/flow/authorize.ts`.
 *
 * Each run loads only the in-process test files that call into the module (test/mutation/vitest.config.ts
 * leaves out the files that drive child processes). Which files those are comes from a coverage map,
 * reports/mutation/test-map.json, made by one plain vitest run with test/mutation/coverage-map-setup.ts and
 * remade when a file under src/ or test/ is newer than it (`--refresh-map` forces, `--keep-map` skips that;
 * `--map-only` stops after the map and prints how many test files each module gets).
 *
 * Results: reports/stryker-incremental/<module>.json (committed; Stryker's incremental mode re-tests only
 * mutants whose code or covering tests changed; `--force` re-tests all), reports/mutation/<module>.html, and
 * reports/mutation/summary.json with the figures of the last run of each module.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The security-critical modules, the client's first (most critical first), then the server's. */
const modules = [
  "src/flow/authorize.ts",
  "src/flow/listen-for-callback.ts",
  "src/flow/token-scope.ts",
  "src/shared/resource-covers.ts",
  "src/flow/credential-binding.ts",
  "src/flow/client-authentication.ts",
  "src/shared/map-error.ts",
  "src/shared/errors.ts",
  "src/flow/request-tokens.ts",
  "src/flow/discover-resource.ts",
  "src/store/token-store.ts",
  "src/shared/back-channel.ts",
  "src/shared/classify-address.ts",
  "src/shared/guard-network.ts",
  "src/flow/discover-authorization-server.ts",
  "src/flow/discover.ts",
  "src/flow/fetch-metadata.ts",
  "src/flow/register-client.ts",
  "src/flow/client-chooser.ts",
  "src/store/fernet-encryption-wrapper.ts",
  "src/store/fernet.ts",
  "src/store/token-lock.ts",
  "src/store/file-lock.ts",
  "src/store/redis-lock.ts",
  // The server's security modules (issue 11): redirect URIs, /authorize, both grants, client
  // authentication, the bearer guard, registration, consent (page and flow), metadata documents.
  "src/server/redirect-uri.ts",
  "src/server/handle-authorize.ts",
  "src/server/grant-authorization-code.ts",
  "src/server/grant-refresh-token.ts",
  "src/server/authenticate-client.ts",
  "src/server/require-bearer.ts",
  "src/server/handle-register.ts",
  "src/server/consent-page.ts",
  "src/server/consent-flow.ts",
  "src/server/client-metadata-documents.ts",
];

const root = fileURLToPath(new URL("../..", import.meta.url));
process.chdir(root);
const reports = "reports/mutation";
const mapFile = join(reports, "test-map.json");
const summaryFile = join(reports, "summary.json");
const vitestConfig = "test/mutation/vitest.config.ts";
const strykerConfig = "test/mutation/stryker.config.mjs";

const args = process.argv.slice(2);
const flags = new Set(args.filter((arg) => arg.startsWith("--")));
for (const flag of flags) if (!["--force", "--refresh-map", "--keep-map", "--map-only"].includes(flag)) fail(`unknown option ${flag}`);
const requested = args.filter((arg) => !arg.startsWith("--")).map(toModule);
const targets = requested.length ? requested : modules.filter((file) => existsSync(file));
for (const file of targets) if (!existsSync(file)) fail(`${file} does not exist`);

mkdirSync(reports, { recursive: true });
const map = testMap();
if (flags.has("--map-only")) {
  for (const file of targets) console.log(`${file}: ${Object.values(map).filter((called) => called.includes(file)).length} test file(s)`);
  process.exit(0);
}
const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, "utf8")) as Record<string, Figures>) : {};
let failed = 0;
for (const file of targets) {
  const tests = Object.entries(map).filter(([, called]) => called.includes(file)).map(([test]) => test).sort();
  if (!tests.length) {
    console.warn(`\n${file}: no in-process test file calls into it; skipped`);
    failed++;
    continue;
  }
  console.log(`\n=== ${file}: ${tests.length} test file(s): ${tests.join(" ")}`);
  const started = Date.now();
  const run = spawnSync(process.execPath, ["node_modules/@stryker-mutator/core/bin/stryker.js", "run", strykerConfig, ...(flags.has("--force") ? ["--force"] : [])], {
    stdio: "inherit",
    env: { ...process.env, STRYKER_MODULE: file, MUTATION_TESTS: tests.join(",") },
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (run.status !== 0) {
    console.error(`${file}: stryker exited with ${run.status ?? run.signal}`);
    failed++;
    continue;
  }
  summary[file] = { ...figures(file), seconds, testFiles: tests.length, date: new Date().toISOString() };
  printUndetected(file);
  writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + "\n");
}

console.log("\nmodule | mutants | killed | survived | no coverage | timeout | errors | score | seconds");
for (const file of targets) {
  const f = summary[file];
  if (f) console.log([file, f.total, f.killed, f.survived, f.noCoverage, f.timeout, f.errors, `${f.score.toFixed(2)}%`, f.seconds].join(" | "));
}
process.exitCode = failed ? 1 : 0;

interface Figures {
  total: number;
  killed: number;
  survived: number;
  noCoverage: number;
  timeout: number;
  /** Compile and runtime errors, and ignored mutants: not counted in the score. */
  errors: number;
  /** (killed + timeout) / (killed + timeout + survived + no coverage), as Stryker computes it. */
  score: number;
  seconds: number;
  testFiles: number;
  date: string;
}

function figures(file: string): Omit<Figures, "seconds" | "testFiles" | "date"> {
  const report = JSON.parse(readFileSync(`reports/stryker-incremental/${slug(file)}.json`, "utf8")) as {
    files: Record<string, { mutants: { status: string }[] }>;
  };
  const statuses = Object.values(report.files).flatMap((entry) => entry.mutants.map((mutant) => mutant.status));
  const count = (status: string) => statuses.filter((s) => s === status).length;
  const killed = count("Killed");
  const survived = count("Survived");
  const noCoverage = count("NoCoverage");
  const timeout = count("Timeout");
  const detected = killed + timeout;
  const valid = detected + survived + noCoverage;
  return { total: statuses.length, killed, survived, noCoverage, timeout, errors: statuses.length - valid, score: valid ? (100 * detected) / valid : 100 };
}

/** The mutants no test detected (survived or not covered), one line each, for review; the HTML report has the diffs. */
function printUndetected(file: string): void {
  const report = JSON.parse(readFileSync(`reports/stryker-incremental/${slug(file)}.json`, "utf8")) as {
    files: Record<string, { source: string; mutants: { status: string; mutatorName: string; replacement?: string; location: { start: { line: number; column: number } } }[] }>;
  };
  for (const [name, entry] of Object.entries(report.files)) {
    const lines = entry.source.split("\n");
    for (const mutant of entry.mutants) {
      if (mutant.status !== "Survived" && mutant.status !== "NoCoverage") continue;
      const { line, column } = mutant.location.start;
      const code = (lines[line - 1] ?? "").trim().slice(0, 80);
      console.log(`${name}:${line}:${column} ${mutant.status} ${mutant.mutatorName} -> ${JSON.stringify(mutant.replacement ?? "").slice(0, 60)}  | ${code}`);
    }
  }
}

/**
 * Test file -> the src/ modules it calls into; remade when stale (see the top of this file). A test file
 * that fails in the mapping run is left out of the map (Stryker's dry run needs a green test set), with a
 * warning: engineers may be in the middle of changing it.
 */
function testMap(): Record<string, string[]> {
  const fresh = existsSync(mapFile) && newest(["src", "test"]) <= statSync(mapFile).mtimeMs;
  if (existsSync(mapFile) && (flags.has("--keep-map") || (fresh && !flags.has("--refresh-map")))) {
    const stored = JSON.parse(readFileSync(mapFile, "utf8")) as { files: Record<string, string[]>; failed: string[] };
    if (stored.failed.length) console.warn(`Left out (they failed when mapped): ${stored.failed.join(" ")}`);
    return stored.files;
  }
  console.log("Mapping test files to the modules they call into (one in-process vitest run)...");
  mkdirSync(".stryker-tmp", { recursive: true });
  const dir = mkdtempSync(join(".stryker-tmp", "test-map-"));
  const results = join(dir, "vitest-results.json");
  const coverage = join(dir, "coverage");
  mkdirSync(coverage);
  spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--config", vitestConfig, "--reporter=dot", "--reporter=json", `--outputFile.json=${results}`], {
    stdio: "inherit",
    env: { ...process.env, MUTATION_MAP_DIR: join(root, coverage), MUTATION_TESTS: "" },
  });
  if (!existsSync(results)) fail("the in-process test run (for the test map) did not report");
  const failed = (JSON.parse(readFileSync(results, "utf8")) as { testResults: { name: string; status: string }[] }).testResults
    .filter((result) => result.status !== "passed")
    .map((result) => result.name.slice(root.length).replace(/^\//, ""));
  const map = writeMap(coverage, failed);
  rmSync(dir, { recursive: true, force: true });
  return map;
}

function writeMap(coverage: string, failed: string[]): Record<string, string[]> {
  const files: Record<string, string[]> = {};
  for (const entry of readdirSync(coverage)) {
    const { testFile, modules: called } = JSON.parse(readFileSync(join(coverage, entry), "utf8")) as { testFile: string; modules: string[] };
    if (!failed.includes(testFile)) files[testFile] = called;
  }
  if (failed.length) console.warn(`Left out of mutation runs (they fail now): ${failed.join(" ")}`);
  writeFileSync(mapFile, JSON.stringify({ generated: new Date().toISOString(), failed, files }, null, 2) + "\n");
  return files;
}

function newest(dirs: string[]): number {
  let latest = 0;
  for (const dir of dirs) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".ts")) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return latest;
}

/** `authorize`, `flow/authorize`, `authorize.ts` or `src/flow/authorize.ts`: a bare name is looked up among `modules`. */
function toModule(arg: string): string {
  const path = `src/${arg.replace(/^(\.\/)?src\//, "").replace(/\.ts$/, "")}.ts`;
  if (existsSync(path)) return path;
  return modules.find((module) => module.endsWith(`/${arg.replace(/\.ts$/, "")}.ts`)) ?? path;
}

function slug(file: string): string {
  return file.replace(/^src\//, "").replace(/\.ts$/, "").replaceAll("/", "__");
}

function fail(message: string): never {
  console.error(`test:mutation: ${message}`);
  process.exit(2);
}
