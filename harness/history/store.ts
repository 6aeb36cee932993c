import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Outcome, ScenarioResult } from '../report/results.js';
import { ConfigError } from '../util/errors.js';
import { cacheDir } from '../util/paths.js';
import type { Figures } from './figures.js';

export type Db = Database.Database;

/** What a row ran on: two rows with the same inputs should behave the same. */
export interface RowInputs {
  suite: string;
  scenario: string;
  arch: string;
  accel: string;
  srcQemu: string;
  dstQemu: string;
  srcBinary: string;
  dstBinary: string;
  /** 'local' (both sides on this machine) or 'two-host' (a hosts file). */
  placement: string;
}

/** A row as the store gives it back: its inputs, its run's identity and time, and its figures. */
export interface StoredRow extends RowInputs {
  runId: string;
  startedAt: string;
  commit?: string;
  runDir?: string;
  seq: number;
  outcome: Outcome;
  error?: string;
  artifacts?: string;
  figures: Figures;
}

/** A run as ingested: identity, time, where it came from. */
export interface StoredRun {
  id: string;
  startedAt: string;
  endedAt?: string;
  hostname?: string;
  command?: string;
  migtestVersion?: string;
  commit?: string;
  runDir?: string;
  source: string;
  metadata?: unknown;
}

/**
 * Schema versions in order; PRAGMA user_version says how many have been applied. Only ever
 * append: a store written by an older migtest is brought up to date when opened.
 */
const MIGRATIONS = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT, hostname TEXT, command TEXT,
     migtest_version TEXT, migtest_commit TEXT, run_dir TEXT, source TEXT NOT NULL,
     ingested_at TEXT NOT NULL, metadata TEXT);
   CREATE TABLE rows (
     run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
     suite TEXT NOT NULL, scenario TEXT NOT NULL, arch TEXT NOT NULL, accel TEXT NOT NULL,
     src_qemu TEXT NOT NULL, dst_qemu TEXT NOT NULL, src_binary TEXT NOT NULL, dst_binary TEXT NOT NULL,
     placement TEXT NOT NULL, outcome TEXT NOT NULL, error TEXT, artifacts TEXT,
     figures TEXT NOT NULL, row TEXT NOT NULL,
     PRIMARY KEY (run_id, seq));
   CREATE INDEX runs_time ON runs (started_at);
   CREATE INDEX rows_scenario ON rows (suite, scenario, arch);`,
];

/** The store's path: --db, else MIGTEST_HISTORY_DB, else history.sqlite in migtest's cache. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.MIGTEST_HISTORY_DB || join(cacheDir(), 'history.sqlite');
}

/**
 * The store `migtest run` records into: `--history` alone means the default path, a value
 * is a path, and without the option MIGTEST_HISTORY_DB (if set) asks for it. Checked before
 * the run starts, so a bad path is said in seconds, not after an hour of migrations.
 */
export function historyTarget(option: string | boolean | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = option === true ? defaultDbPath(env) : typeof option === 'string' ? option : env.MIGTEST_HISTORY_DB || undefined;
  if (path === undefined) return undefined;
  const field = option === undefined ? 'MIGTEST_HISTORY_DB' : '--history';
  if (existsSync(path)) openStore(path, field).close();
  else {
    // Nothing made yet (a dry run makes nothing): the nearest existing folder must take a new file.
    let dir = dirname(resolve(path));
    while (!existsSync(dir)) dir = dirname(dir);
    try {
      if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new ConfigError(field, `'${path}' cannot be made (${(e as Error).message})`, 'a file path in a writable folder');
    }
  }
  return path;
}

/** Opens (creating if need be) a history store and brings its schema up to date. */
export function openStore(path = defaultDbPath(), field = '--db'): Db {
  const full = resolve(path);
  if (existsSync(full) && statSync(full).isDirectory()) throw new ConfigError(field, `'${path}' is a directory`, 'a file path (made if missing)');
  try {
    mkdirSync(dirname(full), { recursive: true });
  } catch (e) {
    throw new ConfigError(field, `'${path}': cannot make its folder (${(e as Error).message})`, 'a file in a writable folder');
  }
  let db: Db | undefined;
  try {
    db = new Database(full, { timeout: 10_000 });
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) throw new ConfigError(field, `'${path}' has schema version ${version}, newer than this migtest's ${MIGRATIONS.length}`, 'a store written by this migtest or an older one');
    db.transaction(() => {
      MIGRATIONS.slice(version).forEach((sql) => db!.exec(sql));
      db!.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
    return db;
  } catch (e) {
    db?.close();
    if (e instanceof ConfigError) throw e;
    // Not SQLite at all, or another program's database: say which file, not SQLite's code.
    throw new ConfigError(field, `'${path}' is not a migtest history store (${(e as Error).message})`, 'a history.sqlite that migtest made, or a new path');
  }
}

export const hasRun = (db: Db, id: string) => !!db.prepare('SELECT 1 FROM runs WHERE id = ?').get(id);

/** One run and its rows, all or nothing. */
export function insertRun(db: Db, run: StoredRun, rows: Array<{ inputs: RowInputs; row: ScenarioResult; figures: Figures }>): void {
  const insRun = db.prepare(
    `INSERT INTO runs (id, started_at, ended_at, hostname, command, migtest_version, migtest_commit, run_dir, source, ingested_at, metadata)
     VALUES (@id, @startedAt, @endedAt, @hostname, @command, @migtestVersion, @commit, @runDir, @source, @ingestedAt, @metadata)`,
  );
  const insRow = db.prepare(
    `INSERT INTO rows (run_id, seq, suite, scenario, arch, accel, src_qemu, dst_qemu, src_binary, dst_binary, placement, outcome, error, artifacts, figures, row)
     VALUES (@runId, @seq, @suite, @scenario, @arch, @accel, @srcQemu, @dstQemu, @srcBinary, @dstBinary, @placement, @outcome, @error, @artifacts, @figures, @row)`,
  );
  db.transaction(() => {
    insRun.run({ endedAt: null, hostname: null, command: null, migtestVersion: null, commit: null, runDir: null, ...run, ingestedAt: new Date().toISOString(), metadata: run.metadata === undefined ? null : JSON.stringify(run.metadata) });
    rows.forEach((r, seq) =>
      insRow.run({ runId: run.id, seq, ...r.inputs, outcome: r.row.outcome, error: r.row.error ?? null, artifacts: r.row.artifacts ?? null, figures: JSON.stringify(r.figures), row: JSON.stringify(r.row) }),
    );
  })();
}

/** The runs, oldest first. */
export function loadRuns(db: Db): Array<StoredRun & { rows: number; passed: number; failed: number; skipped: number }> {
  return (
    db
      .prepare(
        `SELECT r.id, r.started_at AS startedAt, r.ended_at AS endedAt, r.hostname, r.command, r.migtest_version AS migtestVersion, r.migtest_commit AS "commit",
                r.run_dir AS runDir, r.source, COUNT(w.seq) AS rows, SUM(w.outcome = 'passed') AS passed, SUM(w.outcome = 'failed') AS failed, SUM(w.outcome = 'skipped') AS skipped
         FROM runs r LEFT JOIN rows w ON w.run_id = r.id GROUP BY r.id ORDER BY r.started_at, r.id`,
      )
      .all() as Array<StoredRun & { rows: number; passed: number | null; failed: number | null; skipped: number | null }>
  ).map((r) => ({ ...r, passed: r.passed ?? 0, failed: r.failed ?? 0, skipped: r.skipped ?? 0 }));
}

/** Every row with its run's time and commit, oldest run first, in each run's order. */
export function loadRows(db: Db): StoredRow[] {
  const raw = db
    .prepare(
      `SELECT w.run_id AS runId, r.started_at AS startedAt, r.migtest_commit AS "commit", r.run_dir AS runDir, w.seq, w.suite, w.scenario, w.arch, w.accel,
              w.src_qemu AS srcQemu, w.dst_qemu AS dstQemu, w.src_binary AS srcBinary, w.dst_binary AS dstBinary, w.placement, w.outcome, w.error, w.artifacts, w.figures
       FROM rows w JOIN runs r ON r.id = w.run_id ORDER BY r.started_at, r.id, w.seq`,
    )
    .all() as Array<Omit<StoredRow, 'figures'> & { figures: string }>;
  // SQLite's NULLs become absent fields, as in results.json.
  return raw.map((r) => Object.fromEntries(Object.entries({ ...r, figures: JSON.parse(r.figures) as Figures }).filter(([, v]) => v !== null)) as unknown as StoredRow);
}
