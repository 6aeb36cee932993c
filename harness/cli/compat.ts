import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compatMarkdown, compatRows } from '../compat/report.js';
import { loadGrid } from '../compat/grid.js';
import { runDir } from '../report/artifacts.js';
import { readResults } from '../report/results.js';
import { progress } from '../util/log.js';
import { configureRun } from '../util/run-config.js';
import { runSuites, type RunOptions } from './run.js';

/**
 * `migtest compat`: runs the grid through the compat suite, then writes compat.md and
 * compat.json (outcome, QEMU's error, downtimes per cell) beside the results.
 */
export async function runCompat(gridName: string, opts: RunOptions): Promise<number> {
  const grid = loadGrid(gridName); // a bad grid fails here, before any VM starts
  configureRun({ compatGrid: gridName });
  progress(`compat grid ${grid.name}: ${grid.arches.join(', ')} x versions ${grid.versions.join(', ')}`);
  const code = await runSuites(['compat'], opts);
  if (opts.dryRun) return code; // the plan printed: no run, so no report (and no run directory)
  const rows = compatRows(readResults(runDir()));
  const md = compatMarkdown(rows, `Compatibility: ${grid.name}${grid.description ? ` (${grid.description})` : ''}`);
  writeFileSync(join(runDir(), 'compat.md'), md);
  writeFileSync(join(runDir(), 'compat.json'), `${JSON.stringify({ grid, rows }, null, 2)}\n`);
  process.stdout.write(`\n${md}\ncompat report: ${join(runDir(), 'compat.md')} and compat.json\n`);
  return code;
}
