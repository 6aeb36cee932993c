import type { ScenarioResult } from './results.js';

/** One suite file's scenarios, their walls and phases summed. */
export interface FileTime {
  file: string;
  scenarios: number;
  wallMs: number;
  bootMs: number;
  migratingMs: number;
  harnessMs: number;
  /** CPU of the processes the scenarios started, and of the harness itself (rows that measured it). */
  processesCpuMs: number;
  harnessCpuMs: number;
}

/** The suite file a row ran in, short (precopy-basic); its suite for a row that does not name its file. */
export const fileOf = (r: ScenarioResult): string => (r.file ? r.file.replace(/^suites\//, '').replace(/\.test\.ts$/, '') : r.suite);

const zero = (file: string): FileTime => ({ file, scenarios: 0, wallMs: 0, bootMs: 0, migratingMs: 0, harnessMs: 0, processesCpuMs: 0, harnessCpuMs: 0 });

/** `t` with every figure of `m` added: a file's rows, or the files' total. */
const plus = (t: FileTime, m: Omit<FileTime, 'file'>): FileTime => ({
  file: t.file,
  scenarios: t.scenarios + m.scenarios,
  wallMs: t.wallMs + m.wallMs,
  bootMs: t.bootMs + m.bootMs,
  migratingMs: t.migratingMs + m.migratingMs,
  harnessMs: t.harnessMs + m.harnessMs,
  processesCpuMs: t.processesCpuMs + m.processesCpuMs,
  harnessCpuMs: t.harnessCpuMs + m.harnessCpuMs,
});

/**
 * Rows summed by suite file, the largest wall first (every repetition of a repeated run
 * counts). A row without phases (recorded before rows had them) counts whole as harness. Pure.
 */
export function timeByFile(rows: ScenarioResult[]): FileTime[] {
  const by = new Map<string, FileTime>();
  for (const r of rows) {
    const file = fileOf(r);
    const p = r.phases ?? { bootMs: 0, migratingMs: 0, harnessMs: r.wallMs };
    const one = { scenarios: 1, wallMs: r.wallMs, ...p, processesCpuMs: r.cpu?.processesMs ?? 0, harnessCpuMs: r.cpu?.harnessMs ?? 0 };
    by.set(file, plus(by.get(file) ?? zero(file), one));
  }
  return [...by.values()].sort((a, b) => b.wallMs - a.wallMs || a.file.localeCompare(b.file));
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : '-');

export const TIME_SPLIT_HEADERS = ['suite file', 'scenarios', 'wall', 'boot', 'migrating', 'harness'];
/** Added when rows measured their CPU. */
export const CPU_HEADERS = ['CPU: processes', 'CPU: harness'];

/** A file's cells: each phase as its time and share ("3.0s 10%"; the share padded to 4 for aligned columns), then its CPU if asked. */
const cells = (t: FileTime, label: string, cpu: boolean): string[] => [
  label,
  String(t.scenarios),
  secs(t.wallMs),
  ...[t.bootMs, t.migratingMs, t.harnessMs].map((ms) => `${secs(ms)} ${pct(ms, t.wallMs).padStart(4)}`),
  ...(cpu ? [secs(t.processesCpuMs), secs(t.harnessCpuMs)] : []),
];

/**
 * The table of where the time went: the `top` suite files by summed scenario wall, each
 * with its boot / migrating / harness split (summed, and as a share of the file's wall),
 * then a total over every file. Undefined when no row has phases. Pure.
 */
export function timeSplitTable(rows: ScenarioResult[], top = 10): { headers: string[]; body: string[][]; total: string[]; files: number } | undefined {
  if (!rows.some((r) => r.phases)) return undefined;
  const files = timeByFile(rows);
  const sum = files.reduce(plus, zero('total'));
  const cpu = rows.some((r) => r.cpu);
  return {
    headers: [...TIME_SPLIT_HEADERS, ...(cpu ? CPU_HEADERS : [])],
    body: files.slice(0, top).map((f) => cells(f, f.file, cpu)),
    total: cells(sum, `total (${files.length} file${files.length === 1 ? '' : 's'})`, cpu),
    files: files.length,
  };
}

/** What the run's machine did meanwhile: its cores and how busy they were (RunMetadata.hostCpu). */
export interface RunCpu {
  cores: number;
  busyPct?: number;
}

/**
 * The heading: the run's wall, the scenarios' walls summed (more than the run's when files ran
 * at once); with CPU figures, the processes' CPU as the least wall it needs on this machine's
 * cores (no harness and no scheduling makes a run shorter), and how busy the machine was.
 */
function heading(rows: ScenarioResult[], o: TimeSplitOptions, top: number, files: number): string {
  const summed = rows.reduce((s, r) => s + r.wallMs, 0);
  const run = o.runWallMs === undefined ? '' : `run wall ${secs(o.runWallMs)}; `;
  const procs = rows.reduce((s, r) => s + (r.cpu?.processesMs ?? 0), 0);
  const floor = o.cpu && rows.some((r) => r.cpu) ? `; the scenarios' processes used ${secs(procs)} of CPU, at least ${secs(procs / o.cpu.cores)} of wall on ${o.cpu.cores} core(s)` : '';
  const busy = o.cpu?.busyPct === undefined ? '' : `; the machine's CPU was ${o.cpu.busyPct}% busy`;
  return `where the time went: ${run}scenarios' wall summed ${secs(summed)} over ${rows.length} scenario run(s)${floor}${busy}${files > top ? `; the ${top} largest of ${files} suite files` : ''}`;
}

export interface TimeSplitOptions {
  runWallMs?: number;
  top?: number;
  cpu?: RunCpu;
}

/** For the terminal at the end of a run: the heading, then the table in aligned columns; '' when no row has phases. */
export function formatTimeSplit(rows: ScenarioResult[], opts: TimeSplitOptions = {}): string {
  const top = opts.top ?? 10;
  const t = timeSplitTable(rows, top);
  if (!t) return '';
  const all = [t.headers, ...t.body, t.total];
  const widths = t.headers.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  // The file left-aligned, the figures right-aligned.
  const line = (r: string[]) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd();
  return [heading(rows, opts, top, t.files), line(t.headers), ...t.body.map(line), line(t.total)].join('\n');
}

/** For summary.md: a section with the heading and the table; [] when no row has phases. */
export function timeSplitMarkdown(rows: ScenarioResult[], opts: TimeSplitOptions = {}): string[] {
  const top = opts.top ?? 10;
  const t = timeSplitTable(rows, top);
  if (!t) return [];
  const row = (r: string[]) => `| ${r.map((c) => c.replace(/ +/g, ' ')).join(' | ')} |`;
  const total = t.total.map((c) => `**${c}**`);
  return ['### Where the time went', '', `${heading(rows, opts, top, t.files).replace(/^where the time went: /, '')}.`, '', row(t.headers), `|---|${t.headers.slice(1).map(() => '--:|').join('')}`, ...t.body.map(row), row(total), ''];
}

/** What the heading says of a run, from its metadata: its wall and its machine's CPU. */
export function runTimeOptions(meta: { startedAt?: string; endedAt?: string; hostCpu?: RunCpu } | undefined): TimeSplitOptions {
  return { runWallMs: runWallMs(meta), ...(meta?.hostCpu ? { cpu: meta.hostCpu } : {}) };
}

/** A run's wall from its metadata (started, ended); undefined when either is missing or unreadable. */
export function runWallMs(meta: { startedAt?: string; endedAt?: string } | undefined): number | undefined {
  const [a, b] = [Date.parse(meta?.startedAt ?? ''), Date.parse(meta?.endedAt ?? '')];
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, b - a) : undefined;
}
