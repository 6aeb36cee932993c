import { FIGURES } from './figures.js';
import type { KeyRecord } from './flakes.js';
import type { Finding, RunPoint } from './regressions.js';
import type { StoredRow, StoredRun } from './store.js';

/** Plain columns, padded; the last column is left ragged. */
export function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
export const fmtP = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));
export const scenarioName = (r: { suite: string; scenario: string }) => `${r.suite}: ${r.scenario}`;
export const qemuOf = (r: { srcQemu: string; dstQemu: string }) => (r.srcQemu || r.dstQemu ? `${r.srcQemu || '?'}->${r.dstQemu || '?'}` : '-');
export const pct = (x: number) => (Number.isFinite(x) ? `${x > 0 ? '+' : ''}${(x * 100).toFixed(0)}%` : x > 0 ? '+inf' : '-inf');

/** What differs between the run before the change point and the first moved one: the likely culprit. */
export function whatChanged(moved: RunPoint, previous?: RunPoint): string {
  if (!previous) return 'first run of the series';
  const parts: string[] = [];
  if (moved.qemu !== previous.qemu) parts.push(`QEMU ${previous.qemu} => ${moved.qemu}`);
  if (moved.commit !== previous.commit) parts.push(`migtest ${previous.commit ?? '?'} => ${moved.commit ?? '?'}`);
  return parts.join('; ') || 'same QEMU and migtest';
}

export function formatFlakes(keys: KeyRecord[], all: KeyRecord[], last: number): string {
  const summary = `${keys.length} flaky of ${all.length} scenario inputs over their last ${last} runs`;
  if (!keys.length) return summary;
  const table = textTable(
    ['scenario', 'arch', 'accel', 'QEMU', 'passed', 'pass rate', 'same commit'],
    keys.map((k) => [scenarioName(k.inputs), k.inputs.arch || '-', k.inputs.accel || '-', qemuOf(k.inputs), `${k.passed}/${k.passed + k.failed}`, `${Math.round(k.passRate! * 100)}%`, k.sameCommit ? 'yes' : 'no']),
  );
  const failures = keys.flatMap((k) => [
    `${scenarioName(k.inputs)} [${k.inputs.arch || '-'}, QEMU ${qemuOf(k.inputs)}]`,
    ...k.failures.flatMap((f) => [`  ${f.runId} (${f.startedAt.slice(0, 16)}${f.commit ? `, migtest ${f.commit}` : ''}): ${f.error}`, ...(f.artifacts ? [`    artifacts: ${f.artifacts}`] : [])]),
  ]);
  return [table, '', 'failures:', ...failures, '', summary].join('\n');
}

/** A finding as plain data for --json. */
export const findingJson = (f: Finding) => ({
  suite: f.row.suite,
  scenario: f.row.scenario,
  arch: f.row.arch,
  accel: f.row.accel,
  placement: f.row.placement,
  qemu: qemuOf(f.row),
  figure: f.figure.name,
  unit: f.figure.unit,
  direction: f.direction,
  before: f.before,
  after: f.after,
  change: f.change,
  p: f.p,
  method: f.method,
  firstMovedRun: { id: f.moved.runId, startedAt: f.moved.startedAt, commit: f.moved.commit, qemu: f.moved.qemu, changePointP: f.movedP },
  previousRun: f.previous && { id: f.previous.runId, startedAt: f.previous.startedAt, commit: f.previous.commit, qemu: f.previous.qemu },
});

export function formatRegressions(shown: Finding[], r: { findings: Finding[]; tested: number; short: number }, o: { baseline: number; window: number; all: boolean }): string {
  const worse = r.findings.filter((f) => f.direction === 'worse').length;
  const better = r.findings.length - worse;
  const summary =
    `${worse} regression${worse === 1 ? '' : 's'}, ${better} improvement${better === 1 ? '' : 's'}${better && !o.all ? ' (--all lists them)' : ''}: ` +
    `the last ${o.window} runs against the ${o.baseline} before, ${r.tested} series tested, ${r.short} with too little history`;
  if (!shown.length) return summary;
  const side = (s: Finding['before'], unit: string) => `${num(s.median)} ${unit} (IQR ${num(s.iqr)}, n=${s.n})`;
  const table = textTable(
    ['scenario', 'arch', 'figure', 'before', 'after', 'change', 'p', 'first moved run', 'what changed there'],
    shown.map((f) => [scenarioName(f.row), f.row.arch || '-', f.figure.label, side(f.before, f.figure.unit), side(f.after, f.figure.unit), `${pct(f.change)}${f.direction === 'better' ? ' (better)' : ''}`, fmtP(f.p), `${f.moved.runId} (${f.moved.startedAt.slice(0, 10)})`, whatChanged(f.moved, f.previous)]),
  );
  return `${table}\n\n${summary}`;
}

export function formatRuns(runs: Array<StoredRun & { rows: number; passed: number; failed: number; skipped: number }>): string {
  const table = textTable(
    ['run', 'started', 'migtest', 'host', 'rows', 'passed', 'failed', 'skipped', 'command'],
    runs.map((r) => [r.id, r.startedAt.slice(0, 19), r.commit ?? '-', r.hostname ?? '-', `${r.rows}`, `${r.passed}`, `${r.failed}`, `${r.skipped}`, r.command ?? '-']),
  );
  return `${table}\n\n${runs.length} runs`;
}

/** One scenario's rows, run by run: outcome and every tracked figure. */
export function formatScenarioRows(rows: StoredRow[]): string {
  const table = textTable(
    ['run', 'started', 'scenario', 'arch', 'QEMU', 'outcome', ...FIGURES.map((f) => `${f.label} ${f.unit}`)],
    rows.map((r) => [r.runId, r.startedAt.slice(0, 16), scenarioName(r), r.arch || '-', qemuOf(r), r.outcome, ...FIGURES.map((f) => (r.figures[f.name] === undefined ? '-' : num(r.figures[f.name]!)))]),
  );
  return `${table}\n\n${rows.length} rows in ${new Set(rows.map((r) => r.runId)).size} runs`;
}
