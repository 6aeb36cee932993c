import type { Command } from 'commander';
import { flakeRecords, flakes } from '../history/flakes.js';
import { findingJson, formatFlakes, formatRegressions, formatRuns, formatScenarioRows, scenarioName } from '../history/format.js';
import { ingest, ingestLine } from '../history/ingest.js';
import { DEFAULTS, regressions } from '../history/regressions.js';
import { defaultDbPath, loadRows, loadRuns, openStore, type Db } from '../history/store.js';
import { chosenRuns, formatSummary, historySummary, summaryJson } from '../history/summary.js';
import { ConfigError } from '../util/errors.js';

interface Common {
  db?: string;
  json?: boolean;
}

/** A count of runs: a whole number, so a typo is not read as 0 or NaN. */
function runsCount(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new ConfigError(field, `'${text}'`, 'a whole number of runs from 1 to 10000');
  return n;
}

/** Opens the store, runs f, closes it; prints f's text, or its data as JSON with --json. */
function withStore(opts: Common, f: (db: Db, path: string) => { text: string; data: unknown; exit?: number }): void {
  const path = opts.db ?? defaultDbPath();
  const db = openStore(path);
  try {
    const r = f(db, path);
    process.stdout.write(opts.json ? `${JSON.stringify(r.data, null, 2)}\n` : `${r.text}\n`);
    process.exitCode = r.exit ?? 0;
  } finally {
    db.close();
  }
}

const empty = (path: string) => `no runs in ${path} yet (migtest history ingest <results.json or run directory> adds some)`;

/** `migtest history ...`: a store of past runs (SQLite), their flaky scenarios and their figures' regressions. */
export function registerHistory(program: Command): void {
  const history = program.command('history').description('past runs in a store (SQLite): flaky scenarios, regressions of downtime, time and throughput');
  const dbOption = `the store (default: MIGTEST_HISTORY_DB, else ${defaultDbPath({}).replace(/^.*\/\.cache\//, '~/.cache/')})`;
  history
    .command('ingest')
    .description("add runs to the store: results.json files, run directories, `report merge` outputs, or an artifacts folder; a run it has already is skipped")
    .argument('<paths...>', 'results.json files or directories holding them')
    .option('--db <file>', dbOption)
    .option('--json', 'machine-readable output')
    .action((paths: string[], opts: Common) =>
      withStore(opts, (db, path) => {
        const s = ingest(db, paths);
        return { text: ingestLine(s, path), data: { db: path, ...s } };
      }),
    );
  history
    .command('flakes')
    .description('scenarios that both passed and failed on identical inputs (arch, accel, QEMU versions and binaries, placement), with their failures')
    .option('--last <n>', 'runs of each scenario to look at', String(20))
    .option('--db <file>', dbOption)
    .option('--json', 'machine-readable output')
    .action((opts: Common & { last: string }) =>
      withStore(opts, (db, path) => {
        const last = runsCount(opts.last, '--last');
        const rows = loadRows(db);
        const all = flakeRecords(rows, last);
        const found = flakes(rows, last);
        return { text: rows.length ? formatFlakes(found, all, last) : empty(path), data: { last, inputs: all.length, flakes: found } };
      }),
    );
  history
    .command('regressions')
    .description('figures (downtimes, total time, throughput, postcopy blocktime, recovery) whose latest runs moved against a baseline: Mann-Whitney U and a minimum change; exit 1 if one got worse')
    .option('--baseline <n>', 'runs before the window that make the baseline', String(DEFAULTS.baseline))
    .option('--window <n>', 'latest runs compared with the baseline', String(DEFAULTS.window))
    .option('--all', 'list improvements too')
    .option('--db <file>', dbOption)
    .option('--json', 'machine-readable output')
    .action((opts: Common & { baseline: string; window: string; all?: boolean }) =>
      withStore(opts, (db, path) => {
        const [baseline, window] = [runsCount(opts.baseline, '--baseline'), runsCount(opts.window, '--window')];
        const rows = loadRows(db);
        const r = regressions(rows, { baseline, window });
        const shown = r.findings.filter((f) => opts.all || f.direction === 'worse');
        return {
          text: rows.length ? formatRegressions(shown, r, { baseline, window, all: !!opts.all }) : empty(path),
          data: { baseline, window, tested: r.tested, short: r.short, findings: shown.map(findingJson) },
          exit: r.findings.some((f) => f.direction === 'worse') ? 1 : 0,
        };
      }),
    );
  history
    .command('summary')
    .description("markdown for a CI step summary of a run: its new reds, the scenarios still red, the flaky ones, its figures that got worse, and counts; exit 0 whatever it finds")
    .option('--run <runs...>', 'run ids, or the results.json files, run directories or `report merge` outputs they were ingested from (several: a nightly\'s two passes); default: the latest run in the store')
    .option('--last <n>', 'runs of each scenario the flaky section looks at', String(20))
    .option('--db <file>', dbOption)
    .option('--json', 'machine-readable output')
    .action((opts: Common & { run?: string[]; last: string }) =>
      withStore(opts, (db, path) => {
        const last = runsCount(opts.last, '--last');
        const runs = loadRuns(db);
        const ids = chosenRuns(opts.run, runs, path);
        if (!ids.length) return { text: empty(path), data: { db: path, runs: [] } };
        const s = historySummary(loadRows(db), runs, ids, { last });
        return { text: formatSummary(s), data: summaryJson(s) };
      }),
    );
  history
    .command('show')
    .description("the runs in the store; with --scenario, that scenario's rows run by run")
    .option('--scenario <text>', "scenarios whose 'suite: scenario' name contains this (case-insensitive)")
    .option('--last <n>', 'only the last n runs')
    .option('--db <file>', dbOption)
    .option('--json', 'machine-readable output')
    .action((opts: Common & { scenario?: string; last?: string }) =>
      withStore(opts, (db, path) => {
        const runs = loadRuns(db);
        const keep = new Set(runs.slice(-(opts.last === undefined ? runs.length : runsCount(opts.last, '--last'))).map((r) => r.id));
        if (opts.scenario === undefined) {
          const shown = runs.filter((r) => keep.has(r.id));
          return { text: shown.length ? formatRuns(shown) : empty(path), data: shown };
        }
        const needle = opts.scenario.toLowerCase();
        const rows = loadRows(db).filter((r) => keep.has(r.runId) && scenarioName(r).toLowerCase().includes(needle));
        if (!rows.length) throw new ConfigError('--scenario', `'${opts.scenario}' matches no scenario in ${path}`, "a part of a 'suite: scenario' name (history show --json lists the runs)");
        return { text: formatScenarioRows(rows), data: rows };
      }),
    );
}
