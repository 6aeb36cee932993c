import type { ScenarioResult } from './results.js';

const fmtMs = (v?: number) => (v === undefined ? '-' : v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`);
const fmtMbps = (v?: number) => (v === undefined ? '-' : `${v.toFixed(0)} Mbit/s`);

/** The run's closing table: scenario, arch, outcome, times, downtimes, throughput. */
export function formatTable(rows: ScenarioResult[]): string {
  const header = ['scenario', 'arch', 'outcome', 'total', 'qemu total', 'qemu downtime', 'guest downtime', 'throughput'];
  const body = rows.map((r) => [
    `${r.suite}: ${r.scenario}`,
    r.arch ?? '-',
    r.outcome === 'skipped' && r.reason ? `skipped (${r.reason})` : r.verdict ? `${r.outcome} (${r.verdict})` : r.outcome,
    fmtMs(r.wallMs),
    fmtMs(r.qemuTotalTimeMs),
    fmtMs(r.qemuDowntimeMs),
    fmtMs(r.guestDowntimeMs),
    fmtMbps(r.throughputMbps),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const counts = ['passed', 'failed', 'skipped'].map((o) => `${rows.filter((r) => r.outcome === o).length} ${o}`);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', counts.join(', ')].join('\n');
}
