/**
 * Writes config/suite-costs.json, the measured seconds per suite file that the test runner
 * orders files by (longest first; harness/testing/sequencer.ts), from the results.json of a
 * whole run (`migtest run --all`): the scenarios' walls summed per file.
 *
 *   npx tsx bench/suite-costs.ts artifacts/run-.../results.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioResult } from '../harness/report/results.js';
import { COSTS_FILE } from '../harness/testing/sequencer.js';
import { repoRoot } from '../harness/util/paths.js';

const [file] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx bench/suite-costs.ts RESULTS.json (of a migtest run --all)\n');
  process.exit(2);
}
const { results, metadata } = JSON.parse(readFileSync(file, 'utf8')) as { results: ScenarioResult[]; metadata?: { startedAt?: string; accel?: Array<{ arch: string; accel: string }> } };
const ms = new Map<string, number>();
for (const r of results) if (r.file) ms.set(r.file, (ms.get(r.file) ?? 0) + r.wallMs);
const seconds = Object.fromEntries([...ms].sort((a, b) => b[1] - a[1]).map(([f, v]) => [f, Math.round(v / 1000)]));
const about = `scenario walls summed per file, ${metadata?.startedAt ?? 'a run'} (${(metadata?.accel ?? []).map((a) => `${a.arch} ${a.accel}`).join(', ')}); only their order matters`;
writeFileSync(join(repoRoot, COSTS_FILE), `${JSON.stringify({ about, seconds }, null, 2)}\n`);
process.stdout.write(`${COSTS_FILE}: ${ms.size} files\n`);
