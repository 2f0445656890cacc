/**
 * Setup file for `test/mutation/run.ts --map`: records which src/ modules each test file actually calls
 * into (V8 function counts through node:inspector, the way @vitest/coverage-v8 does), so each mutation run
 * only loads the test files that exercise the module being mutated. Inert unless MUTATION_MAP_DIR is set.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect } from "vitest";

interface FunctionCoverage {
  functionName: string;
  ranges: { startOffset: number; endOffset: number; count: number }[];
}

const outDir = process.env.MUTATION_MAP_DIR;
if (outDir) {
  const session = new Session();
  const root = fileURLToPath(new URL("../..", import.meta.url));
  beforeAll(async () => {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: false });
  });
  afterAll(async () => {
    const { result } = (await session.post("Profiler.takePreciseCoverage")) as { result: { url: string; functions: FunctionCoverage[] }[] };
    await session.post("Profiler.stopPreciseCoverage");
    session.disconnect();
    const called = new Set<string>();
    for (const script of result) {
      const path = script.url.startsWith("file://") ? fileURLToPath(script.url) : script.url;
      const file = relative(root, path).split("?")[0]!;
      if (!/^src\/.*\.ts$/.test(file)) continue;
      // Any function with a count: the module's own functions, or the getters vitest's module runner puts
      // on its exports (an importer reads one when it uses the binding). The top level is not among them,
      // so a module that was only loaded does not count. Erring on the side of a test file too many only
      // costs time; a file too few would let mutants survive.
      if (script.functions.some((fn) => (fn.ranges[0]?.count ?? 0) > 0)) called.add(file);
    }
    const testFile = relative(root, expect.getState().testPath ?? "unknown");
    writeFileSync(join(outDir, `${testFile.replaceAll("/", "__")}.json`), JSON.stringify({ testFile, modules: [...called].sort() }));
  });
}
