import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, identifies a process across pid reuse. */
  startTime: number;
  /** CPU time (user + system, every thread) of the process, and of its children it has waited for, in ms. */
  cpuMs: number;
  childrenCpuMs: number;
}

/** Linux's USER_HZ: /proc counts CPU time in ticks of 10 ms (the ABI's 100 Hz, whatever the kernel's tick). */
const TICK_MS = 10;

/** Reads /proc/<pid>/stat; undefined when the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStat(pid, text);
}

/** One /proc/<pid>/stat line, read here or on another host. */
export function parseStat(pid: number, text: string): ProcStat {
  // comm may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const rest = text.slice(close + 2).split(' ');
  // Fields 14-17 (utime, stime, cutime, cstime) are rest[11..14]; field 22 (starttime) rest[19].
  const ticks = (...i: number[]) => i.reduce((s, k) => s + Number(rest[k]), 0) * TICK_MS;
  return { pid, comm, state: rest[0]!, pgrp: Number(rest[2]), startTime: Number(rest[19]), cpuMs: ticks(11, 12), childrenCpuMs: ticks(13, 14) };
}

/** The CPU of this machine since it booted, summed over its cores: busy (not idle, not waiting on I/O) and all, in ms. */
export interface HostCpu {
  cores: number;
  busyMs: number;
  allMs: number;
}

/** /proc/stat's first line (`cpu  user nice system idle iowait irq softirq steal ...`) and its per-core lines. Pure. */
export function parseHostCpu(text: string): HostCpu | undefined {
  const lines = text.split('\n');
  const all = lines.find((l) => /^cpu\s/.test(l));
  if (!all) return undefined;
  // guest and guest_nice (fields 9, 10) are already counted in user and nice.
  const f = all.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  const sum = f.reduce((a, b) => a + b, 0) * TICK_MS;
  const idle = (f[3]! + (f[4] ?? 0)) * TICK_MS;
  return { cores: lines.filter((l) => /^cpu\d+\s/.test(l)).length || 1, busyMs: sum - idle, allMs: sum };
}

/** This machine's CPU since boot (/proc/stat); undefined where there is no /proc. */
export function hostCpu(): HostCpu | undefined {
  try {
    return parseHostCpu(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The share of `cores` busy between two readings, 0-100; undefined without both. Pure. */
export function busyPct(from: HostCpu | undefined, to: HostCpu | undefined): number | undefined {
  if (!from || !to || to.allMs <= from.allMs) return undefined;
  return Math.round((100 * (to.busyMs - from.busyMs)) / (to.allMs - from.allMs));
}

/** True when pid is alive (not a zombie) and, if given, started at startTime. */
export function isAlive(pid: number, startTime?: number): boolean {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Live members of a process group that started no earlier than minStart (guards pgid reuse). */
export function groupMembers(pgid: number, minStart = 0): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.pgrp === pgid && st.startTime >= minStart && st.state !== 'Z') out.push(st);
  }
  return out;
}
