// @ts-check
/* global process */
/**
 * StrykerJS for one module at a time: `npm run test:mutation -- <module>` (see test/mutation/run.ts, which
 * sets STRYKER_MODULE and the narrowed test list, and docs/mutation.md).
 *
 * Version: @stryker-mutator/core and vitest-runner are pinned to 9.6.1, the last line whose engines accept
 * Node 20 (10.x requires Node >= 22). The project, its CI and this machine run Node 20, so 9.6.1 runs on the
 * same Node as `npm test` and needs no `node@22` download at run time; 9.6.1's vitest runner already
 * supports vitest 4.1 (it checks for >= 4.1.0 itself).
 */
const module = process.env.STRYKER_MODULE;
if (!module) throw new Error("STRYKER_MODULE is not set: run `npm run test:mutation -- <module>` (test/mutation/run.ts)");
const name = module.replace(/^src\//, "").replace(/\.ts$/, "").replaceAll("/", "__");

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [module],
  testRunner: "vitest",
  vitest: { configFile: "test/mutation/vitest.config.ts", related: false },
  // Only the vitest runner: no other plugin is looked up or loaded, and no reporter talks to the network
  // (no "dashboard" reporter; the HTML report inlines its script).
  plugins: ["@stryker-mutator/vitest-runner"],
  coverageAnalysis: "perTest",
  // Static mutants (module-level code: zod schemas, constant tables) need the module loaded again, and the
  // in-process set shares one module graph (isolate: false in its vitest config), so they could never be
  // activated: each would run every covering test for a certain "survived". Ignored, and not counted,
  // unless MUTATION_ISOLATE=1 runs the set with isolation (about twice as slow), where they are tested.
  ignoreStatic: process.env.MUTATION_ISOLATE !== "1",
  // One test runner by default: other suites share this 2-core machine, and run.ts runs us under nice.
  // STRYKER_CONCURRENCY=2 halves the time on an idle machine (test namespaces and ports are per process).
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 1),
  // Loopback servers and a loaded machine: be generous before calling a mutant a timeout.
  timeoutMS: 10_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 15,
  // Commit-ready incremental mode: one results file per module (a run only reports the files it mutates,
  // so a shared file would keep only the last module). Committed; see .gitignore.
  incremental: true,
  incrementalFile: `reports/stryker-incremental/${name}.json`,
  reporters: ["clear-text", "progress", "html"],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportTests: false, reportScoreTable: true, reportMutants: false },
  thresholds: { high: 90, low: 75, break: null },
  // The sandbox stays inside the project (gitignored) and is removed after a successful run.
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  ignorePatterns: [".venv-interop", ".conformance", "dist", "coverage", "reports", ".ci", "bench", "docs"],
  // The mutated copy is run by vitest (esbuild strips types), so no type checker: type-invalid mutants still run.
  checkers: [],
  logLevel: "info",
  fileLogLevel: "off",
};
