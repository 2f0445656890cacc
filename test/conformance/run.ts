/**
 * `npm run test:conformance`: every client authorization scenario of the official MCP conformance
 * suite, pinned at 0.1.16, against test/conformance/client.ts.
 *
 * The suite's runner needs Node 22, so it runs on the `node@22` npm package; the client under test runs
 * on this machine's Node. Each scenario runs on its own so that its exit code (which counts warnings,
 * timeouts and client crashes, as the suite does) is its verdict. No expected-failures baseline.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { node22 } from "../support/node22.js";

const version = "0.1.16";
const concurrency = 4;
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "SKIPPED" | "INFO";
  description: string;
}
interface Outcome {
  scenario: string;
  exitCode: number;
  checks: Check[];
  log: string;
  seconds: number;
}

function conformanceEntry(): string {
  const require = createRequire(join(root, "package.json"));
  const manifest = require.resolve("@modelcontextprotocol/conformance/package.json");
  const installed = (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  if (installed !== version) throw new Error(`@modelcontextprotocol/conformance ${installed} is installed; this run is pinned to ${version} (npm ci)`);
  return join(dirname(manifest), "dist/index.js");
}

function listScenarios(node: string, entry: string): string[] {
  const out = execFileSync(node, [entry, "list", "--client"], { encoding: "utf8" });
  return [...out.matchAll(/^\s+- (auth\/\S+)/gm)].map((match) => match[1] as string);
}

function run(node: string, entry: string, scenario: string, outDir: string): Promise<Outcome> {
  // The suite splits --command on spaces and runs it through a shell.
  const command = `${process.execPath} --import tsx ${join(root, "test/conformance/client.ts")}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(node, [entry, "client", "--command", command, "--scenario", scenario, "-o", outDir], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.on("close", (code) => {
      resolve({ scenario, exitCode: code ?? 1, checks: readChecks(outDir, scenario), log, seconds: (performance.now() - started) / 1000 });
    });
  });
}

function readChecks(outDir: string, scenario: string): Check[] {
  const dir = join(outDir, dirname(scenario));
  const prefix = `${scenario.split("/").at(-1)}-`;
  const runs = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name.startsWith(prefix));
  const latest = runs.map((entry) => join(dir, entry.name)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return latest ? (JSON.parse(readFileSync(join(latest, "checks.json"), "utf8")) as Check[]) : [];
}

async function runAll(scenarios: string[], node: string, entry: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const queue = [...scenarios];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      outcomes.push(await run(node, entry, next, mkdtempSync(join(tmpdir(), "conformance-"))));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return scenarios.map((scenario) => outcomes.find((outcome) => outcome.scenario === scenario) as Outcome);
}

async function main(): Promise<number> {
  const entry = conformanceEntry();
  const node = node22();
  const only = process.argv.slice(2);
  const scenarios = listScenarios(node, entry).filter((name) => only.length === 0 || only.includes(name));
  console.log(`@modelcontextprotocol/conformance ${version} on Node ${execFileSync(node, ["--version"], { encoding: "utf8" }).trim()}; client on Node ${process.version}`);
  const outcomes = await runAll(scenarios, node, entry);
  let passed = 0;
  const totals = { SUCCESS: 0, FAILURE: 0, WARNING: 0 };
  for (const outcome of outcomes) {
    const count = (status: Check["status"]) => outcome.checks.filter((check) => check.status === status).length;
    const [ok, failed, warned] = [count("SUCCESS"), count("FAILURE"), count("WARNING")];
    totals.SUCCESS += ok;
    totals.FAILURE += failed;
    totals.WARNING += warned;
    const pass = outcome.exitCode === 0 && failed === 0 && warned === 0 && ok > 0;
    if (pass) passed += 1;
    console.log(`${pass ? "PASS" : "FAIL"} ${outcome.scenario.padEnd(44)} ${ok} passed, ${failed} failed, ${warned} warnings (${outcome.seconds.toFixed(1)} s)`);
    for (const check of outcome.checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING")) console.log(`     ${check.status} ${check.id}: ${check.description}`);
    if (!pass) console.log(outcome.log.replace(/^/gm, "     | "));
  }
  const expected = only.length === 0 ? 22 : only.length;
  console.log(
    `conformance ${version}: ${passed}/${outcomes.length} scenarios passed; checks: ${totals.SUCCESS} passed, ${totals.FAILURE} failed, ${totals.WARNING} warnings`,
  );
  if (outcomes.length !== expected) console.log(`expected ${expected} auth scenarios, found ${outcomes.length}`);
  return passed === outcomes.length && outcomes.length === expected ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
