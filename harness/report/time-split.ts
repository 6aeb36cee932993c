import type { ScenarioResult } from './results.js';

/** One suite file's scenarios, their walls and phases summed. */
export interface FileTime {
  file: string;
  scenarios: number;
  wallMs: number;
  bootMs: number;
  migratingMs: number;
  harnessMs: number;
}

/** The suite file a row ran in, short (precopy-basic); its suite for a row that does not name its file. */
export const fileOf = (r: ScenarioResult): string => (r.file ? r.file.replace(/^suites\//, '').replace(/\.test\.ts$/, '') : r.suite);

/**
 * Rows summed by suite file, the largest wall first (every repetition of a repeated run
 * counts). A row without phases (recorded before rows had them) counts whole as harness. Pure.
 */
export function timeByFile(rows: ScenarioResult[]): FileTime[] {
  const by = new Map<string, FileTime>();
  for (const r of rows) {
    const file = fileOf(r);
    const t = by.get(file) ?? { file, scenarios: 0, wallMs: 0, bootMs: 0, migratingMs: 0, harnessMs: 0 };
    const p = r.phases ?? { bootMs: 0, migratingMs: 0, harnessMs: r.wallMs };
    t.scenarios++;
    t.wallMs += r.wallMs;
    t.bootMs += p.bootMs;
    t.migratingMs += p.migratingMs;
    t.harnessMs += p.harnessMs;
    by.set(file, t);
  }
  return [...by.values()].sort((a, b) => b.wallMs - a.wallMs || a.file.localeCompare(b.file));
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : '-');

export const TIME_SPLIT_HEADERS = ['suite file', 'scenarios', 'wall', 'boot', 'migrating', 'harness'];

/** A file's cells: each phase as its time and share ("3.0s 10%"; the share padded to 4 for aligned columns). */
const cells = (t: FileTime, label = t.file): string[] => [
  label,
  String(t.scenarios),
  secs(t.wallMs),
  ...[t.bootMs, t.migratingMs, t.harnessMs].map((ms) => `${secs(ms)} ${pct(ms, t.wallMs).padStart(4)}`),
];

/**
 * The table of where the time went: the `top` suite files by summed scenario wall, each
 * with its boot / migrating / harness split (summed, and as a share of the file's wall),
 * then a total over every file. Undefined when no row has phases. Pure.
 */
export function timeSplitTable(rows: ScenarioResult[], top = 10): { headers: string[]; body: string[][]; total: string[]; files: number } | undefined {
  if (!rows.some((r) => r.phases)) return undefined;
  const files = timeByFile(rows);
  const sum = files.reduce((s, f) => ({
    file: 'total',
    scenarios: s.scenarios + f.scenarios,
    wallMs: s.wallMs + f.wallMs,
    bootMs: s.bootMs + f.bootMs,
    migratingMs: s.migratingMs + f.migratingMs,
    harnessMs: s.harnessMs + f.harnessMs,
  }), { file: 'total', scenarios: 0, wallMs: 0, bootMs: 0, migratingMs: 0, harnessMs: 0 });
  return { headers: TIME_SPLIT_HEADERS, body: files.slice(0, top).map((f) => cells(f)), total: cells(sum, `total (${files.length} file${files.length === 1 ? '' : 's'})`), files: files.length };
}

/** The heading line: the run's wall, and the scenarios' walls summed (more than the run's when files ran at once). */
function heading(rows: ScenarioResult[], runWallMs: number | undefined, top: number, files: number): string {
  const summed = rows.reduce((s, r) => s + r.wallMs, 0);
  const run = runWallMs === undefined ? '' : `run wall ${secs(runWallMs)}; `;
  return `where the time went: ${run}scenarios' wall summed ${secs(summed)} over ${rows.length} scenario run(s)${files > top ? `; the ${top} largest of ${files} suite files` : ''}`;
}

/** For the terminal at the end of a run: the heading, then the table in aligned columns; '' when no row has phases. */
export function formatTimeSplit(rows: ScenarioResult[], opts: { runWallMs?: number; top?: number } = {}): string {
  const top = opts.top ?? 10;
  const t = timeSplitTable(rows, top);
  if (!t) return '';
  const all = [t.headers, ...t.body, t.total];
  const widths = t.headers.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  // The file left-aligned, the figures right-aligned.
  const line = (r: string[]) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd();
  return [heading(rows, opts.runWallMs, top, t.files), line(t.headers), ...t.body.map(line), line(t.total)].join('\n');
}

/** For summary.md: a section with the heading and the table; [] when no row has phases. */
export function timeSplitMarkdown(rows: ScenarioResult[], opts: { runWallMs?: number; top?: number } = {}): string[] {
  const top = opts.top ?? 10;
  const t = timeSplitTable(rows, top);
  if (!t) return [];
  const row = (r: string[]) => `| ${r.map((c) => c.replace(/ +/g, ' ')).join(' | ')} |`;
  const total = t.total.map((c) => `**${c}**`);
  return ['### Where the time went', '', `${heading(rows, opts.runWallMs, top, t.files).replace(/^where the time went: /, '')}.`, '', row(t.headers), `|---|${t.headers.slice(1).map(() => '--:|').join('')}`, ...t.body.map(row), row(total), ''];
}

/** A run's wall from its metadata (started, ended); undefined when either is missing or unreadable. */
export function runWallMs(meta: { startedAt?: string; endedAt?: string } | undefined): number | undefined {
  const [a, b] = [Date.parse(meta?.startedAt ?? ''), Date.parse(meta?.endedAt ?? '')];
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, b - a) : undefined;
}
