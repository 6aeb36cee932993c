import type { ScenarioResult } from './results.js';

const fmtMs = (v?: number) => (v === undefined ? '-' : v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`);
const fmtMbps = (v?: number) => (v === undefined ? '-' : `${v.toFixed(0)} Mbit/s`);

/** Postcopy figures, when the scenario had any: vCPU blocktime, and fault -> recovered with the guest's stall. */
function postcopyNote(r: ScenarioResult): string {
  const parts: string[] = [];
  if (r.postcopyBlocktimeMs !== undefined) parts.push(`blocktime ${fmtMs(r.postcopyBlocktimeMs)}`);
  if (r.recovery) parts.push(`recovered ${fmtMs(r.recovery.failureToRecoveredMs)} after the fault, guest stalled ${fmtMs(r.recovery.heartbeatGapMs)}`);
  return parts.join('; ') || '-';
}

/** The run's closing table: scenario, arch, outcome, times, downtimes, throughput. */
export function formatTable(rows: ScenarioResult[]): string {
  const header = ['scenario', 'arch', 'outcome', 'total', 'qemu total', 'qemu downtime', 'guest downtime', 'throughput', 'postcopy'];
  const body = rows.map((r) => [
    `${r.suite}: ${r.scenario}`,
    r.arch ?? '-',
    r.outcome === 'skipped' && r.reason ? `skipped (${r.reason})` : r.verdict ? `${r.outcome} (${r.verdict})` : r.outcome,
    fmtMs(r.wallMs),
    fmtMs(r.qemuTotalTimeMs),
    fmtMs(r.qemuDowntimeMs),
    fmtMs(r.guestDowntimeMs),
    fmtMbps(r.throughputMbps),
    postcopyNote(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const counts = ['passed', 'failed', 'skipped'].map((o) => `${rows.filter((r) => r.outcome === o).length} ${o}`);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', counts.join(', ')].join('\n');
}
