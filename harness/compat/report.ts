import { compareVersions } from '../qemu/catalog.js';
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
  /** "7.2.22->10.0.2": the versions that ran. */
  versions?: string;
  /** What comparing the two sides' -dump-vmstate predicted, and whether the run agreed. */
  static?: { predicted: string; agreement?: string; issues: Array<{ level: string; at: string; what: string }>; issueCount?: number };
}

export function compatRows(results: ScenarioResult[]): CompatRow[] {
  return results
    .filter((r) => r.suite === 'compat')
    .map((r) => {
      const x = (r.extra ?? {}) as { expected?: string; outcome?: string; error?: string; qemu?: string; static?: CompatRow['static'] };
      return {
        cell: r.scenario,
        arch: r.arch ?? '-',
        expected: x.expected ?? '-',
        outcome: r.outcome === 'skipped' ? `skipped: ${r.reason}` : r.outcome === 'failed' && !x.outcome ? `harness error: ${r.error}` : (x.outcome ?? r.outcome),
        error: x.error,
        downtimeMs: r.qemuDowntimeMs,
        guestDowntimeMs: r.guestDowntimeMs,
        versions: x.qemu,
        static: x.static && 'predicted' in x.static ? x.static : undefined,
      };
    });
}

const cell = (s: string | number | undefined) => (s === undefined || s === '' ? '-' : String(s).replace(/\|/g, '\\|'));

/** The static check in a cell: its prediction, the agreement, and its first definite issue. */
function staticCell(s: CompatRow['static']): string {
  if (!s) return '-';
  const first = s.issues.find((i) => i.level === 'definite') ?? s.issues[0];
  return `${s.predicted}${s.agreement ? ` (${s.agreement})` : ''}${first ? `: ${first.at}: ${first.what}` : ''}`;
}

/** Markdown table: cell, expected, outcome, QEMU's error, downtimes, static check. */
export function compatMarkdown(rows: CompatRow[], title: string): string {
  const head = '| cell | expected | outcome | error | QEMU downtime | guest downtime | static -dump-vmstate check |\n|---|---|---|---|---|---|---|';
  const body = rows.map(
    (r) =>
      `| ${cell(r.cell)} | ${cell(r.expected)} | ${cell(r.outcome)} | ${cell(r.error)} | ${r.downtimeMs === undefined ? '-' : `${r.downtimeMs} ms`} | ${r.guestDowntimeMs === undefined ? '-' : `${r.guestDowntimeMs} ms`} | ${cell(staticCell(r.static))} |`,
  );
  return [`## ${title}`, '', head, ...body, '', ...versionSummary(rows), ...staticSummary(rows), ''].join('\n');
}

/**
 * Per arch, how often the static comparison called the outcome: where it predicted a
 * refusal, and where only a real migration told.
 */
export function staticSummary(rows: CompatRow[]): string[] {
  const judged = rows.filter((r) => r.static?.agreement);
  if (!judged.length) return [];
  const kinds = ['agreed', 'predicted the refusal', 'hinted at the refusal', 'only migration tells', 'false alarm'];
  const out = ['### Static -dump-vmstate check against the real outcome', '', `| arch | ${kinds.join(' | ')} |`, `|---|${kinds.map(() => '---').join('|')}|`];
  for (const arch of [...new Set(judged.map((r) => r.arch))]) {
    const mine = judged.filter((r) => r.arch === arch);
    out.push(`| ${arch} | ${kinds.map((k) => mine.filter((r) => r.static!.agreement === k).length).join(' | ')} |`);
  }
  const told = judged.filter((r) => r.static!.agreement === 'only migration tells' || r.static!.agreement === 'false alarm');
  if (told.length) out.push('', 'Where the dumps did not tell:', '', ...told.map((r) => `- ${r.cell}: ${r.static!.agreement}; ${r.outcome}${r.error ? ` (${r.error.slice(0, 160)})` : ''}`));
  return [...out, ''];
}

/** The kind of an outcome label ("refused", "skipped: ..."): what a summary counts. */
const kind = (outcome: string) => outcome.split(/[:\s]/)[0]!;

/**
 * Per arch, source version x destination version: how many cells of each outcome
 * (migrated / refused / dst-start-failed / guest-died / skipped / failed).
 */
export function versionSummary(rows: CompatRow[]): string[] {
  const out: string[] = [];
  for (const arch of [...new Set(rows.map((r) => r.arch))]) {
    const mine = rows.filter((r) => r.arch === arch && r.versions);
    const pairs = mine.map((r) => r.versions!.split('->') as [string, string]);
    const versions = [...new Set(pairs.flat())].sort(compareVersions);
    if (!versions.length) continue;
    out.push(`### ${arch}: source (rows) x destination (columns)`, '', `| source | ${versions.join(' | ')} |`, `|---|${versions.map(() => '---').join('|')}|`);
    for (const src of versions) {
      const cells = versions.map((dst) => {
        const counts = new Map<string, number>();
        mine.filter((r) => r.versions === `${src}->${dst}`).forEach((r) => counts.set(kind(r.outcome), (counts.get(kind(r.outcome)) ?? 0) + 1));
        return counts.size ? [...counts].map(([k, n]) => `${n} ${k}`).join(', ') : '-';
      });
      out.push(`| ${src} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out;
}
