import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { RedCell } from "./known-red.js";

export interface CellResult {
  client: string;
  server: string;
  passed: boolean;
  ms: number;
  /** The scenario step that failed. */
  step?: string;
  error?: string;
  red?: RedCell;
}

const target = fileURLToPath(new URL("../../docs/interop.md", import.meta.url));

/**
 * Writes docs/interop.md from a whole run: clients as rows, servers as columns, each red cell with its
 * failing step, reason and where it is fixed. A run filtered to some cells writes nothing, so the
 * table always shows a complete matrix.
 */
export async function writeReport(run: { clients: string[]; servers: string[]; results: CellResult[] }): Promise<void> {
  const { clients, servers, results } = run;
  if (results.length !== clients.length * servers.length) return;
  const find = (client: string, server: string) => results.find((r) => r.client === client && r.server === server);
  const notes: string[] = [];
  const rows = clients.map((client) => {
    const cells = servers.map((server) => {
      const result = find(client, server);
      if (!result) return "not run";
      if (result.passed) return `pass (${(result.ms / 1000).toFixed(1)} s)`;
      notes.push(
        `${notes.length + 1}. **${client} with ${server}** fails at *${result.step ?? "?"}*: ${result.red ? `${result.red.reason}. ${result.red.owner === "peer" ? "Upstream" : "Ours"}: ${result.red.where}.` : "not marked as known."}` +
          `\n   Error: \`${oneLine(result.error ?? "")}\``,
      );
      return `**red** [${notes.length}](#red-cells)`;
    });
    return `| ${client} | ${cells.join(" | ")} |`;
  });
  const total = results.reduce((sum, r) => sum + r.ms, 0);
  const text = [
    "# Interop matrix",
    "",
    "Written by `npm run test:interop` (test/interop/matrix.interop.ts) from its last complete run; do not edit by hand.",
    "Each cell: a real login (discovery, registration, the browser step, the loopback callback, the code exchange),",
    "a tool call, a refresh after the access token expired, and a second client instance on the same persistent",
    "store that calls again without a new login. Times are per cell.",
    "",
    `| client \\ server | ${servers.join(" | ")} |`,
    `| --- | ${servers.map(() => "---").join(" | ")} |`,
    ...rows,
    "",
    `${results.filter((r) => r.passed).length} of ${results.length} cells pass; cells took ${(total / 1000).toFixed(0)} s in all.`,
    "",
    "## Red cells",
    "",
    ...(notes.length > 0 ? notes : ["None."]),
    "",
  ].join("\n");
  await writeFile(target, text);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").replace(/`/g, "'").slice(0, 400);
}
