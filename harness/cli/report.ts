import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../util/errors.js';
import { dirname, join, resolve } from 'node:path';
import { toJUnit } from '../report/junit.js';
import { toMarkdown } from '../report/markdown.js';
import { toHtml } from '../report/html.js';
import { mergeShards } from '../report/merge.js';
import type { ScenarioResult } from '../report/results.js';
import type { RunMetadata } from '../report/metadata.js';
import { formatTable } from '../report/table.js';
import { recordRun } from '../history/record.js';
import { progress } from '../util/log.js';

/**
 * Next to a results.json: junit.xml, summary.md (failures first, under 1 MiB for a CI step
 * summary) and report.html. With a history store, the results.json goes into it first and
 * report.html gains its history section; a store that fails costs the section, not the reports.
 */
export function writeReports(resultsFile: string, rows: ScenarioResult[], title = 'migtest', opts: { meta?: RunMetadata; runDir?: string; history?: string } = {}): { junit: string; summary: string; html: string } {
  const dir = dirname(resultsFile);
  const junit = join(dir, 'junit.xml');
  const summary = join(dir, 'summary.md');
  const html = join(dir, 'report.html');
  writeFileSync(junit, toJUnit(rows, title, opts.meta));
  writeFileSync(summary, toMarkdown(rows, { title, meta: opts.meta }));
  const sections: string[] = [];
  if (opts.history)
    try {
      const h = recordRun(opts.history, resultsFile);
      sections.push(h.html);
      progress(h.line);
    } catch (e) {
      progress(`history: not recorded in ${opts.history}: ${(e as Error).message}`);
    }
  writeFileSync(html, toHtml(rows, { title, meta: opts.meta, runDir: opts.runDir, sections }));
  return { junit, summary, html };
}

/** `migtest report merge`: shards' results in one results.json, with its JUnit and summary; exit 1 if any failed. */
export function mergeCommand(paths: string[], opts: { out?: string }): number {
  const merged = mergeShards(paths);
  const out = resolve(opts.out ?? '.');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new ConfigError('--out', `'${opts.out}' is a file`, 'a directory (made if missing)');
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new ConfigError('--out', `'${opts.out}' cannot be made (${(e as NodeJS.ErrnoException).code})`, 'a directory (made if missing) under a folder you can write');
  }
  const file = join(out, 'results.json');
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  const { junit, summary, html } = writeReports(file, merged.results, `migtest (${merged.shards.length} shards)`, { meta: merged.metadata });
  const failed = merged.results.filter((r) => r.outcome === 'failed').length;
  process.stdout.write(`${formatTable(merged.results)}\n\nmerged ${merged.shards.length} shards: ${merged.results.length} rows, ${failed} failed\n${file}\n${junit}\n${summary}\n${html}\n`);
  return failed ? 1 : 0;
}
