import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { parseResultsFile, type ParsedRun } from './parse.js';
import { hasRun, insertRun, type Db } from './store.js';

const ALLOWED = ['a results.json (migtest run, or report merge)', 'a run directory holding one', 'an artifacts folder of run directories'];

/**
 * The results.json files a path stands for: the file itself, a run directory's (or a
 * `report merge --out` folder's), or each run directory's under an artifacts folder.
 */
export function resultsFiles(path: string): string[] {
  if (!existsSync(path)) throw new ConfigError('history ingest', `'${path}' does not exist`, ALLOWED);
  if (!statSync(path).isDirectory()) return [path];
  const own = join(path, 'results.json');
  if (existsSync(own)) return [own];
  const runs = readdirSync(path)
    .sort()
    .map((d) => join(path, d, 'results.json'))
    .filter((f) => existsSync(f));
  if (!runs.length) throw new ConfigError('history ingest', `'${path}' holds no results.json, nor do its folders`, ALLOWED);
  return runs;
}

export interface IngestSummary {
  /** Runs added now, and runs the store had already (by id). */
  added: string[];
  known: string[];
  rows: number;
  files: number;
}

/**
 * Adds runs to the store; a run it has already (same id) is left as it is, so ingesting the
 * same artifacts every night is harmless. Every file is read and checked before any is
 * written: one bad file adds nothing and names itself.
 */
export function ingest(db: Db, paths: string[]): IngestSummary {
  if (!paths.length) throw new ConfigError('history ingest', 'no path given', ALLOWED);
  const files = [...new Set(paths.flatMap(resultsFiles).map((f) => resolve(f)))];
  const parsed: ParsedRun[] = files.map(parseResultsFile);
  const summary: IngestSummary = { added: [], known: [], rows: 0, files: files.length };
  for (const p of parsed) {
    if (hasRun(db, p.run.id)) {
      summary.known.push(p.run.id);
      continue;
    }
    insertRun(db, p.run, p.rows);
    summary.added.push(p.run.id);
    summary.rows += p.rows.length;
  }
  return summary;
}

/** "ingested 3 runs (1 already known), 412 rows" */
export function ingestLine(s: IngestSummary, db: string): string {
  const runs = s.added.length + s.known.length;
  return `ingested ${runs} run${runs === 1 ? '' : 's'} (${s.known.length} already known), ${s.rows} new rows into ${db}`;
}
