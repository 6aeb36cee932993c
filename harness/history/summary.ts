import { existsSync } from 'node:fs';
import { ConfigError } from '../util/errors.js';
import { flakes, inputsKey, type KeyRecord } from './flakes.js';
import { findingJson, fmtP, num, pct, qemuOf, scenarioName, whatChanged } from './format.js';
import { resultsFiles } from './ingest.js';
import { parseResultsFile } from './parse.js';
import { regressions, type Finding, type ShiftOptions } from './regressions.js';
import type { RowInputs, StoredRow, StoredRun } from './store.js';

/** A run as a summary names it. */
export interface RunRef {
  runId: string;
  startedAt: string;
}

/** A scenario (on given inputs) that failed in a chosen run. */
export interface Red {
  inputs: RowInputs;
  runId: string;
  /** The first line of its error. */
  error: string;
  /** The last earlier run with these inputs that passed, if any. */
  lastPassed?: RunRef;
}
export interface NewRed extends Red {
  /** 'new': the previous run with these inputs passed; 'first run': no earlier run with them passed or failed. */
  status: 'new' | 'first run';
}
export interface StillRed extends Red {
  /** The first failed run of the streak that ends here, and how many runs the streak has. */
  since: RunRef;
  failedRuns: number;
}
export interface FlakyHere extends KeyRecord {
  /** How the chosen run ended it. */
  now: 'passed' | 'failed';
}

export interface HistorySummary {
  runs: RunRef[];
  /** Earlier runs in the store (before the first chosen one). */
  earlierRuns: number;
  newReds: NewRed[];
  stillRed: StillRed[];
  flaky: FlakyHere[];
  /** Figures of the chosen runs that moved for the worse. */
  regressions: Finding[];
  counts: { rows: number; passed: number; failed: number; skipped: number };
}

type Outcome = StoredRow['outcome'];
interface RunOutcome extends RunRef {
  outcome: Outcome;
  error?: string;
}

const inputsOf = (r: RowInputs): RowInputs => ({ suite: r.suite, scenario: r.scenario, arch: r.arch, accel: r.accel, srcQemu: r.srcQemu, dstQemu: r.dstQemu, srcBinary: r.srcBinary, dstBinary: r.dstBinary, placement: r.placement });

/** Per inputs, one outcome per run (a --repeat run has several rows): failed if one failed, passed if one passed, else skipped. */
function outcomesByKey(rows: StoredRow[]): Map<string, { inputs: RowInputs; runs: RunOutcome[] }> {
  const out = new Map<string, { inputs: RowInputs; runs: RunOutcome[] }>();
  for (const r of rows) {
    const k = inputsKey(r);
    const { runs } = out.get(k) ?? out.set(k, { inputs: inputsOf(r), runs: [] }).get(k)!;
    let last = runs.at(-1);
    if (last?.runId !== r.runId) runs.push((last = { runId: r.runId, startedAt: r.startedAt, outcome: 'skipped' }));
    if (r.outcome === 'failed' && last.outcome !== 'failed') [last.outcome, last.error] = ['failed', r.error];
    else if (r.outcome === 'passed' && last.outcome === 'skipped') last.outcome = 'passed';
  }
  return out;
}

const ref = (o: RunRef): RunRef => ({ runId: o.runId, startedAt: o.startedAt });
const firstLine = (e: string | undefined) => (e ?? 'no error recorded').split('\n')[0]!.slice(0, 300);
const byName = (a: { inputs: RowInputs }, b: { inputs: RowInputs }) => scenarioName(a.inputs).localeCompare(scenarioName(b.inputs)) || inputsKey(a.inputs).localeCompare(inputsKey(b.inputs));

/**
 * What a run (or several, as a nightly's two passes) brought: its new reds (failed where the
 * previous run with identical inputs passed, or with no earlier run), the scenarios still
 * red, the flaky ones among its rows, and its figures that moved for the worse. Only runs up
 * to the last chosen one count, so an old run reads as it did that night. Skips are no
 * evidence: a scenario's previous run is its last one that passed or failed. Pure.
 */
export function historySummary(rows: StoredRow[], runs: Array<Pick<StoredRun, 'id' | 'startedAt'>>, chosen: string[], opts: { last?: number; shift?: Partial<ShiftOptions> } = {}): HistorySummary {
  const order = new Map(runs.map((r, i) => [r.id, i]));
  for (const id of chosen) if (!order.has(id)) throw new ConfigError('--run', `'${id}' is not a run in the store`, 'a run id (history show lists them)');
  const ids = [...new Set(chosen)].sort((a, b) => order.get(a)! - order.get(b)!);
  const picked = new Set(ids);
  const upTo = order.get(ids.at(-1)!)!;
  const kept = rows.filter((r) => order.get(r.runId)! <= upTo);
  const mine = kept.filter((r) => picked.has(r.runId));

  const newReds: NewRed[] = [];
  const stillRed: StillRed[] = [];
  // How the chosen runs ended each inputs (failed if one of them failed).
  const now = new Map<string, 'passed' | 'failed'>();
  for (const [key, { inputs, runs: outcomes }] of outcomesByKey(kept)) {
    outcomes.forEach((o, i) => {
      if (!picked.has(o.runId) || o.outcome === 'skipped') return;
      if (now.get(key) !== 'failed') now.set(key, o.outcome);
      if (o.outcome !== 'failed') return;
      const before = outcomes.slice(0, i).filter((p) => p.outcome !== 'skipped');
      const lastPassedAt = before.map((p) => p.outcome).lastIndexOf('passed');
      const red: Red = { inputs, runId: o.runId, error: firstLine(o.error) };
      if (lastPassedAt >= 0) red.lastPassed = ref(before[lastPassedAt]!);
      const prev = before.at(-1);
      if (!prev || prev.outcome === 'passed') newReds.push({ ...red, status: prev ? 'new' : 'first run' });
      else {
        const streak = before.slice(lastPassedAt + 1);
        stillRed.push({ ...red, since: ref(streak[0]!), failedRuns: streak.length + 1 });
      }
    });
  }

  const flaky = flakes(kept, opts.last ?? 20)
    .filter((k) => now.has(inputsKey(k.inputs)))
    .map((k) => ({ ...k, now: now.get(inputsKey(k.inputs))! }));
  const worse = regressions(kept, opts.shift).findings.filter((f) => f.direction === 'worse' && picked.has(f.row.runId));
  const count = (o: Outcome) => mine.filter((r) => r.outcome === o).length;
  return {
    runs: ids.map((id) => ({ runId: id, startedAt: runs[order.get(id)!]!.startedAt })),
    earlierRuns: order.get(ids[0]!)!,
    newReds: newReds.sort(byName),
    stillRed: stillRed.sort((a, b) => a.since.startedAt.localeCompare(b.since.startedAt) || byName(a, b)),
    flaky,
    regressions: worse,
    counts: { rows: mine.length, passed: count('passed'), failed: count('failed'), skipped: count('skipped') },
  };
}

/**
 * The runs --run names: run ids, or paths of results.json files, run directories or
 * `report merge` outputs already ingested (their runs). None: the latest run in the store.
 */
export function chosenRuns(specs: string[] | undefined, runs: Array<Pick<StoredRun, 'id'>>, db: string): string[] {
  if (!specs?.length) return runs.length ? [runs.at(-1)!.id] : [];
  const known = new Set(runs.map((r) => r.id));
  return specs.flatMap((s) => {
    if (known.has(s) || !existsSync(s)) {
      if (!known.has(s)) throw new ConfigError('--run', `'${s}' is neither a run in ${db} nor a file or folder`, 'a run id (history show lists them), or a results.json or run directory that was ingested');
      return [s];
    }
    return resultsFiles(s).map((f) => {
      const id = parseResultsFile(f).run.id;
      if (!known.has(id)) throw new ConfigError('--run', `'${f}' is run ${id}, which is not in ${db}`, 'a results.json or run directory that history ingest added');
      return id;
    });
  });
}

/** Inline code in markdown: a backtick inside would end it early. */
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const day = (r: RunRef) => r.startedAt.slice(0, 16).replace('T', ' ');
const runText = (r: RunRef) => `${code(r.runId)} (${day(r)})`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "`precopy-basic: racy` (x86_64, tcg, QEMU 11.1.3->11.1.3)" */
function what(i: RowInputs): string {
  const on = [i.arch || '-', i.accel || '-', `QEMU ${qemuOf(i)}`, ...(i.placement === 'local' ? [] : [i.placement])];
  return `${code(scenarioName(i))} (${on.join(', ')})`;
}

/**
 * Markdown for a CI step summary: new reds, still red, flaky, regressions, then one line of
 * counts. Each section says "none" when it is empty.
 */
export function formatSummary(s: HistorySummary): string {
  const several = s.runs.length > 1;
  const inRun = (r: Red) => (several ? ` in ${code(r.runId)}` : '');
  const section = (title: string, items: string[]) => [`### ${title}`, '', ...(items.length ? items.map((l) => `- ${l}`) : ['none']), ''];
  const head = s.runs.length === 1 ? `Run ${runText(s.runs[0]!)}` : `Runs ${s.runs.map(runText).join(', ')}`;
  const worse = s.regressions.length;
  const newCount = s.newReds.filter((r) => r.status === 'new').length;
  return [
    '## History',
    '',
    `${head}, after ${plural(s.earlierRuns, 'earlier run')} in the store.`,
    '',
    ...section(
      'New reds',
      s.newReds.map((r) => `${what(r.inputs)}${inRun(r)}: ${r.status === 'new' ? `new, passed in ${runText(r.lastPassed!)}` : 'first run'}: ${code(r.error)}`),
    ),
    ...section(
      'Still red',
      s.stillRed.map((r) => `${what(r.inputs)}${inRun(r)}: red since ${runText(r.since)}, ${plural(r.failedRuns, 'run')}${r.lastPassed ? '' : ', never passed'}: ${code(r.error)}`),
    ),
    ...section(
      'Flaky',
      s.flaky.map((k) => `${what(k.inputs)}: passed ${k.passed}/${k.passed + k.failed} (${Math.round(k.passRate! * 100)}%) of its last ${plural(k.runs, 'run')}, ${k.now} here${k.sameCommit ? '; one migtest commit both passed and failed' : ''}`),
    ),
    ...section(
      'Regressions',
      s.regressions.map(
        (f) =>
          `${what(f.row)}: ${f.figure.label} ${num(f.before.median)} -> ${num(f.after.median)} ${f.figure.unit} (${pct(f.change)}, p ${fmtP(f.p)}), moved in ${runText(f.moved)}: ${whatChanged(f.moved, f.previous)}`,
      ),
    ),
    `${plural(s.counts.rows, 'row')}: ${s.counts.passed} passed, ${s.counts.failed} failed (${newCount} new, ${s.newReds.length - newCount} first run, ${s.stillRed.length} still red), ${s.counts.skipped} skipped; ${s.flaky.length} flaky; ${plural(worse, 'regression')}.`,
  ].join('\n');
}

/** The summary as plain data for --json. */
export const summaryJson = (s: HistorySummary) => ({ ...s, regressions: s.regressions.map(findingJson) });
