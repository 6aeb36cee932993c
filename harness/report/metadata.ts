import { relative, isAbsolute, join } from 'node:path';
import type { ScenarioResult } from './results.js';

/** What a run was: which migtest, when, where, with what accelerator, QEMUs and images. */
export interface RunMetadata {
  migtest: { version: string; commit?: string; dirty?: boolean };
  /** The command as given (`migtest run ...`). */
  command: string[];
  startedAt: string;
  endedAt?: string;
  /** This machine, and the hosts file's hosts when the run had two. */
  host: { hostname: string; kernel: string };
  hostsFile?: string;
  /** The accelerator each arch really used, and why. */
  accel: Array<{ arch: string; accel: string; why: string }>;
  /** The QEMU each side ran, per arch. */
  qemu: Array<{ arch: string; side: string; version: string; source: string; path: string }>;
  /** The guest image each arch booted: its recipe hash (or the user's files). */
  images: Array<{ arch: string; image: string }>;
  /** This machine's cores, and how busy they were (every process, not only the run's) from start to end. */
  hostCpu?: { cores: number; busyPct?: number };
}

/** The metadata as `label: value` lines, for summary.md, report.html and the terminal. */
export function metadataLines(m: RunMetadata): Array<[string, string]> {
  const took = m.endedAt ? ` (${((Date.parse(m.endedAt) - Date.parse(m.startedAt)) / 60_000).toFixed(1)} min)` : '';
  return [
    ['migtest', `${m.migtest.version}${m.migtest.commit ? ` commit ${m.migtest.commit}${m.migtest.dirty ? ' (with uncommitted changes)' : ''}` : ''}`],
    ['command', m.command.join(' ')],
    ['time', `${m.startedAt} to ${m.endedAt ?? '(running)'}${took}`],
    ['host', `${m.host.hostname}, ${m.host.kernel}${m.hostsFile ? `; hosts file ${m.hostsFile}` : ''}`],
    ...m.accel.map((a): [string, string] => [`accelerator ${a.arch}`, `${a.accel}: ${a.why}`]),
    ...m.qemu.map((q): [string, string] => [`QEMU ${q.arch} ${q.side}`, `${q.version} (${q.source}) ${q.path}`]),
    ...m.images.map((i): [string, string] => [`image ${i.arch}`, i.image]),
    ...(m.hostCpu ? [['CPU', `${m.hostCpu.cores} core(s)${m.hostCpu.busyPct === undefined ? '' : `, ${m.hostCpu.busyPct}% busy during the run`}`] as [string, string]] : []),
  ];
}

/** Rows with their artifacts directories relative to the run directory (results.json, JUnit, summary travel without the machine's paths). */
export function relativeRows(rows: ScenarioResult[], runDir: string): ScenarioResult[] {
  return rows.map((r) => (r.artifacts && isAbsolute(r.artifacts) ? { ...r, artifacts: relative(runDir, r.artifacts) || '.' } : r));
}

/** An artifacts path as given, or resolved against the run directory. */
export const artifactsPath = (p: string, runDir?: string) => (isAbsolute(p) || !runDir ? p : join(runDir, p));
