import { xmlEscape as esc } from '../report/junit.js';
import { sparkline } from '../report/svg.js';
import { FIGURES } from './figures.js';
import { flakeRecords } from './flakes.js';
import { fmtP, scenarioName, whatChanged } from './format.js';
import { detectShift, DEFAULTS, trendKey, trendSeries, type ShiftOptions } from './regressions.js';
import { median } from './stats.js';
import type { StoredRow } from './store.js';

interface Trend {
  name: string;
  arch: string;
  figure: string;
  unit: string;
  values: number[];
  previous?: number;
  flag?: string;
  worse: boolean;
}

const cell = (v: number | undefined) => (v === undefined ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));

/** The trends of this run's scenarios, one per scenario and figure, from the store's passed rows. */
function trends(rows: StoredRow[], runId: string, points: number, shift: Partial<ShiftOptions>): Trend[] {
  const mine = new Set(rows.filter((r) => r.runId === runId).map(trendKey));
  const out: Trend[] = [];
  for (const figure of FIGURES)
    for (const [key, { row, points: all }] of trendSeries(rows, figure.name)) {
      // The trend must include this run: a scenario it did not run, or failed, has no point today.
      if (!mine.has(key) || all.at(-1)?.runId !== runId || all.length < 2) continue;
      const s = detectShift(all.map((p) => p.values), figure, shift);
      const o = { ...DEFAULTS, ...shift };
      out.push({
        name: scenarioName(row),
        arch: row.arch,
        figure: figure.label,
        unit: figure.unit,
        values: all.slice(-points).map((p) => median(p.values)),
        previous: median(all.slice(-1 - o.baseline, -1).flatMap((p) => p.values)),
        flag: s && `${s.direction} ${s.change > 0 ? '+' : ''}${(s.change * 100).toFixed(0)}%, p=${fmtP(s.p)}, moved at ${all[s.movedAt]!.runId} (${whatChanged(all[s.movedAt]!, all[s.movedAt - 1])})`,
        worse: s?.direction === 'worse',
      });
    }
  return out.sort((a, b) => Number(b.worse) - Number(a.worse) || Number(!!b.flag) - Number(!!a.flag) || a.name.localeCompare(b.name));
}

const trendTable = (ts: Trend[]) =>
  `<table><tr><th>scenario</th><th>arch</th><th>figure</th><th>trend (oldest left)</th><th>this run</th><th>median before</th><th>moved?</th></tr>${ts
    .map(
      (t) =>
        `<tr${t.worse ? ' class="failed"' : ''}><td>${esc(t.name)}</td><td>${esc(t.arch || '-')}</td><td>${esc(t.figure)} (${esc(t.unit)})</td>` +
        `<td>${sparkline(t.values, { title: `${t.name} ${t.figure}`, flag: t.worse })}</td><td>${cell(t.values.at(-1))}</td><td>${cell(t.previous)}</td><td>${esc(t.flag ?? '')}</td></tr>`,
    )
    .join('')}</table>`;

/**
 * report.html's history section for one run already in the store: per scenario of the run
 * and figure, a sparkline of its last runs with the change (if any) that the regression test
 * finds, moved ones first; then the flaky scenarios. Pure: the caller loads the rows.
 */
export function historySection(rows: StoredRow[], runId: string, opts: { db: string; points?: number; last?: number; shift?: Partial<ShiftOptions> }): string {
  const runs = new Set(rows.map((r) => r.runId)).size;
  const ts = trends(rows, runId, opts.points ?? 30, opts.shift ?? {});
  const flagged = ts.filter((t) => t.flag);
  const last = opts.last ?? 20;
  const flaky = flakeRecords(rows, last).filter((k) => k.flaky);
  const parts = [
    `<h2 id="history">History</h2><p>${runs} runs in <code>${esc(opts.db)}</code>. ${flagged.length} figure${flagged.length === 1 ? '' : 's'} moved (the last ${opts.shift?.window ?? DEFAULTS.window} runs against the ${opts.shift?.baseline ?? DEFAULTS.baseline} before: Mann-Whitney p &lt; ${opts.shift?.alpha ?? DEFAULTS.alpha} and a change of ${((opts.shift?.minRelative ?? DEFAULTS.minRelative) * 100).toFixed(0)}% or more, the new median beyond the baseline's outlier fences); ${flaky.length} flaky scenario input${flaky.length === 1 ? '' : 's'} over their last ${last} runs.</p>`,
  ];
  if (flagged.length) parts.push('<h3>Moved</h3>', trendTable(flagged));
  const rest = ts.filter((t) => !t.flag);
  if (rest.length) parts.push(`<details><summary>Steady trends (${rest.length})</summary>${trendTable(rest)}</details>`);
  if (!ts.length) parts.push('<p>No trend yet: this run is the first of its scenarios in the store, or none of its rows passed with figures.</p>');
  if (flaky.length)
    parts.push(
      '<h3>Flaky scenarios</h3><table><tr><th>scenario</th><th>arch</th><th>QEMU</th><th>passed</th><th>same commit</th><th>failures (first line, artifacts)</th></tr>',
      ...flaky.map(
        (k) =>
          `<tr><td>${esc(scenarioName(k.inputs))}</td><td>${esc(k.inputs.arch || '-')}</td><td>${esc(`${k.inputs.srcQemu}->${k.inputs.dstQemu}`)}</td><td>${k.passed}/${k.passed + k.failed}</td><td>${k.sameCommit ? 'yes' : 'no'}</td><td>${k.failures
            .map((f) => `<div>${esc(f.runId)}: ${esc(f.error)}${f.artifacts ? ` <code>${esc(f.artifacts)}</code>` : ''}</div>`)
            .join('')}</td></tr>`,
      ),
      '</table>',
    );
  return parts.join('\n');
}
