import type { ScenarioResult } from '../report/results.js';

/** One row of the compatibility report. */
export interface CompatRow {
  cell: string;
  arch: string;
  expected: string;
  outcome: string;
  error?: string;
  downtimeMs?: number;
  guestDowntimeMs?: number;
}

export function compatRows(results: ScenarioResult[]): CompatRow[] {
  return results
    .filter((r) => r.suite === 'compat')
    .map((r) => {
      const x = (r.extra ?? {}) as { expected?: string; outcome?: string; error?: string };
      return {
        cell: r.scenario,
        arch: r.arch ?? '-',
        expected: x.expected ?? '-',
        outcome: r.outcome === 'skipped' ? `skipped: ${r.reason}` : r.outcome === 'failed' && !x.outcome ? `harness error: ${r.error}` : (x.outcome ?? r.outcome),
        error: x.error,
        downtimeMs: r.qemuDowntimeMs,
        guestDowntimeMs: r.guestDowntimeMs,
      };
    });
}

const cell = (s: string | number | undefined) => (s === undefined || s === '' ? '-' : String(s).replace(/\|/g, '\\|'));

/** Markdown table: cell, expected, outcome, QEMU's error, downtimes. */
export function compatMarkdown(rows: CompatRow[], title: string): string {
  const head = '| cell | expected | outcome | error | QEMU downtime | guest downtime |\n|---|---|---|---|---|---|';
  const body = rows.map(
    (r) =>
      `| ${cell(r.cell)} | ${cell(r.expected)} | ${cell(r.outcome)} | ${cell(r.error)} | ${r.downtimeMs === undefined ? '-' : `${r.downtimeMs} ms`} | ${r.guestDowntimeMs === undefined ? '-' : `${r.guestDowntimeMs} ms`} |`,
  );
  return [`## ${title}`, '', head, ...body, ''].join('\n');
}
