/* global process, console */
// Prints a vitest JSON report's counts and fails on a run with no tests or any skipped test (CI refuses both).
import { readFileSync } from "node:fs";

const [label, file] = process.argv.slice(2);
const r = JSON.parse(readFileSync(file, "utf8"));
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
if (r.numTotalTests === 0 || skipped > 0) {
  console.error(`CI refuses a ${label} run with no tests or skipped tests`);
  process.exit(1);
}
