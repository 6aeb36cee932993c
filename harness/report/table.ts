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

/** Disk and network figures, when the scenario had any. */
export function ioNote(r: ScenarioResult): string {
  const parts: string[] = [];
  const io = r.io;
  if (io) {
    if (io.mirrorSync) parts.push(`mirror ${io.mirrorSync} ${((io.mirrorBytes ?? 0) / 1048576).toFixed(1)}MiB`);
    if (io.parked !== undefined) parts.push(`${io.parked} parked, ${io.replayed ?? 0} replayed`);
    if (io.inflightBeforeStop !== undefined) parts.push(`${io.inflightBeforeStop} in flight at stop`);
    parts.push(`${io.writes} writes${io.verifiedBytes ? ' verified' : ''}`);
  }
  const n = r.net;
  if (n) parts.push(`ping/${n.intervalMs}ms: gap ${fmtMs(n.maxGapMs)}, lost ${n.lost}/${n.sent}, rarp ${n.rarp}${n.firstAnnounceMs !== undefined ? ` (+${fmtMs(n.firstAnnounceMs)})` : ''}`);
  return parts.join('; ') || '-';
}

/** What a row's outcome means, in words (a skip with its reason, a pass with its verdict). */
export function outcomeText(r: ScenarioResult): string {
  return r.outcome === 'skipped' && r.reason ? `skipped (${r.reason})` : r.verdict ? `${r.outcome} (${r.verdict})` : r.outcome;
}

/** A guest downtime from the agent's polls says how coarse it is. */
const agentNote = (r: ScenarioResult) => (r.guestDowntimeResolutionMs === undefined || r.guestDowntimeMs === undefined ? '' : ` (agent, ±${Math.round(r.guestDowntimeResolutionMs)} ms)`);

/** The short summary row of the CI summary and report.html: headers, and a row's cells. */
export const SUMMARY_HEADERS = ['scenario', 'arch', 'outcome', 'wall ms', 'QEMU total ms', 'QEMU downtime ms', 'guest downtime ms', 'Mbit/s'];
export function summaryCells(r: ScenarioResult): string[] {
  const ms = (v?: number) => (v === undefined ? '' : `${Math.round(v)}`);
  return [`${r.suite}: ${r.scenario}`, r.arch ?? '', outcomeText(r), ms(r.wallMs), ms(r.qemuTotalTimeMs), ms(r.qemuDowntimeMs), `${ms(r.guestDowntimeMs)}${agentNote(r)}`, r.throughputMbps === undefined ? '' : r.throughputMbps.toFixed(0)];
}

/** The run's closing table: scenario, arch, outcome, times, downtimes, throughput. */
export function formatTable(rows: ScenarioResult[]): string {
  const header = ['scenario', 'arch', 'outcome', 'total', 'qemu total', 'qemu downtime', 'guest downtime', 'throughput', 'postcopy', 'I/O, network'];
  const body = rows.map((r) => [
    `${r.suite}: ${r.scenario}`,
    r.arch ?? '-',
    outcomeText(r),
    fmtMs(r.wallMs),
    fmtMs(r.qemuTotalTimeMs),
    fmtMs(r.qemuDowntimeMs),
    `${fmtMs(r.guestDowntimeMs)}${agentNote(r)}`,
    fmtMbps(r.throughputMbps),
    postcopyNote(r),
    ioNote(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const counts = ['passed', 'failed', 'skipped'].map((o) => `${rows.filter((r) => r.outcome === o).length} ${o}`);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', counts.join(', '), ...failures(rows)].join('\n');
}

/**
 * The failed rows again, last, with their error's first line and artifacts directory:
 * a CI log often keeps only its tail, and the table alone does not say why.
 */
function failures(rows: ScenarioResult[]): string[] {
  const failed = rows.filter((r) => r.outcome === 'failed');
  if (!failed.length) return [];
  return ['', 'failed:', ...failed.flatMap((r) => [
    `  ${r.suite}: ${r.scenario}${r.arch ? ` [${r.arch}]` : ''}`,
    `    ${(r.error ?? 'no error recorded').split('\n')[0]!.slice(0, 300)}`,
    ...(r.artifacts ? [`    artifacts: ${r.artifacts}`] : []),
  ])];
}
