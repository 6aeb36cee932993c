import { artifactsPath, metadataLines, type RunMetadata } from './metadata.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { xmlEscape as esc } from './junit.js';
import type { ScenarioResult } from './results.js';
import { barChart, lineChart, type Band } from './svg.js';
import { SUMMARY_HEADERS, summaryCells } from './table.js';

/** One sample of a migration's query-migrate series (stats.<dst>.json). */
interface Sample {
  t: number;
  status: string;
  transferred?: number;
  remaining?: number;
  mbps?: number;
  dirtyPagesRate?: number;
}

const PAGE = 4096;
const MiB = 2 ** 20;
const STATE_COLORS: Record<string, string> = { 'postcopy-active': '#3b82f6', 'postcopy-paused': '#dc2626', 'postcopy-recover': '#f59e0b' };

/** The migrations a scenario's artifacts hold: each stats.<vm>.json's source series. */
function seriesIn(dir: string | undefined): Array<{ name: string; samples: Sample[] }> {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^stats\..+\.json$/.test(f))
    .sort()
    .flatMap((f) => {
      try {
        const s = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { source?: Sample[] }).source ?? [];
        return s.length > 1 ? [{ name: f.slice(6, -5), samples: s }] : [];
      } catch {
        return [];
      }
    });
}

/** Runs of the same postcopy state, as shaded bands (seconds from the first sample). Pure. */
export function stateBands(samples: Sample[]): Band[] {
  const t0 = samples[0]?.t ?? 0;
  const bands: Band[] = [];
  for (const s of samples) {
    const color = STATE_COLORS[s.status];
    const last = bands.at(-1);
    const at = (s.t - t0) / 1000;
    if (last && last.label === s.status) last.to = at;
    else if (color) bands.push({ from: at, to: at, label: s.status, color });
  }
  return bands;
}

/** The two charts of one migration: bytes over time, and throughput with the dirty rate. Pure. */
export function migrationCharts(name: string, samples: Sample[]): string {
  const t0 = samples[0]!.t;
  const at = (s: Sample) => (s.t - t0) / 1000;
  const bands = stateBands(samples);
  const bytes = lineChart(
    `${name}: transferred and remaining`,
    [
      { name: 'transferred MiB', color: '#16a34a', points: samples.map((s) => [at(s), (s.transferred ?? 0) / MiB]) },
      { name: 'remaining MiB', color: '#9333ea', points: samples.map((s) => [at(s), (s.remaining ?? 0) / MiB]) },
    ],
    { xLabel: 'seconds', left: 'MiB', bands },
  );
  const rates = lineChart(
    `${name}: throughput and dirty rate`,
    [
      { name: 'throughput Mbit/s', color: '#0ea5e9', points: samples.map((s) => [at(s), s.mbps ?? 0]) },
      { name: 'dirty rate MiB/s', color: '#e11d48', axis: 'right', points: samples.map((s) => [at(s), ((s.dirtyPagesRate ?? 0) * PAGE) / MiB]) },
    ],
    { xLabel: 'seconds', left: 'Mbit/s', right: 'MiB/s', bands },
  );
  return bytes + rates;
}

const label = (r: ScenarioResult) => `${r.suite}: ${r.scenario}${r.arch ? ` (${r.arch})` : ''}`;

/**
 * One self-contained HTML page for a run (no script, no server, nothing fetched): failures
 * first with their error and artifacts, downtime per scenario (QEMU's and the guest's),
 * postcopy stall episodes, then each migration's charts from its stats series, and every row.
 */
export function toHtml(rows: ScenarioResult[], opts: { title?: string; meta?: RunMetadata; runDir?: string; sections?: string[] } = {}): string {
  const title = opts.title ?? 'migtest';
  const seriesOf = (dir: string | undefined) => seriesIn(dir && artifactsPath(dir, opts.runDir));
  const n = (o: ScenarioResult['outcome']) => rows.filter((r) => r.outcome === o).length;
  const failed = rows.filter((r) => r.outcome === 'failed');
  const parts: string[] = [];
  parts.push(`<h1>${esc(title)}</h1><p class="counts"><b>${n('passed')} passed</b>, <b class="bad">${n('failed')} failed</b>, ${n('skipped')} skipped, of ${rows.length}</p>`);
  if (opts.meta) parts.push(`<details class="run"><summary>What this run was</summary><table>${metadataLines(opts.meta).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table></details>`);
  if (failed.length) {
    parts.push('<h2 id="failures">Failures</h2>');
    for (const r of failed) {
      const charts = seriesOf(r.artifacts).map((s) => migrationCharts(s.name, s.samples)).join('');
      parts.push(`<section class="failure"><h3>${esc(label(r))}</h3><pre>${esc(r.error ?? 'failed')}</pre><p>artifacts: <code>${esc(r.artifacts ?? '-')}</code></p>${charts}</section>`);
    }
  }
  // Sections made elsewhere (the run's history), already HTML: after the failures, as the next thing to read.
  parts.push(...(opts.sections ?? []));
  const down = rows.filter((r) => r.qemuDowntimeMs !== undefined || r.guestDowntimeMs !== undefined);
  if (down.length)
    parts.push(
      '<h2>Downtime per scenario</h2>',
      barChart('QEMU downtime and the downtime the guest saw', down.map((r) => ({ label: label(r), values: [{ name: 'QEMU', value: r.qemuDowntimeMs, color: '#64748b' }, { name: 'guest', value: r.guestDowntimeMs, color: '#f97316' }] })), 'ms'),
    );
  const rec = rows.filter((r) => r.recovery);
  if (rec.length)
    parts.push(
      '<h2>Postcopy stall episodes</h2>',
      barChart(
        'fault to both paused, fault to recovered, the stall the guest felt',
        rec.map((r) => ({
          label: label(r),
          values: [
            { name: 'paused', value: r.recovery!.failureToPausedMs, color: '#dc2626' },
            { name: 'recovered', value: r.recovery!.failureToRecoveredMs, color: '#3b82f6' },
            { name: 'guest stall', value: r.recovery!.heartbeatGapMs, color: '#f97316' },
          ],
        })),
        'ms',
      ),
    );
  const charted = rows.filter((r) => r.outcome !== 'failed').map((r) => ({ r, series: seriesOf(r.artifacts) })).filter((x) => x.series.length);
  if (charted.length) {
    parts.push('<h2>Migrations</h2>');
    for (const { r, series } of charted) parts.push(`<section><h3>${esc(label(r))}</h3>${series.map((s) => migrationCharts(s.name, s.samples)).join('')}</section>`);
  }
  parts.push(
    `<h2>All scenarios</h2><table><tr>${SUMMARY_HEADERS.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
    ...[...failed, ...rows.filter((r) => r.outcome !== 'failed')].map((r) => `<tr class="${r.outcome}">${summaryCells(r).map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`),
    '</table>',
  );
  const css =
    'body{font-family:sans-serif;margin:24px;color:#111}h2{border-bottom:1px solid #ccc}.bad{color:#b91c1c}.failure{border-left:4px solid #b91c1c;padding-left:12px}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}tr.failed{background:#fee2e2}tr.skipped{color:#777}svg{display:block;margin:6px 0}';
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${css}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
