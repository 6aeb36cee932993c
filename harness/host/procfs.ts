import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, identifies a process across pid reuse. */
  startTime: number;
}

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
  return { pid, comm, state: rest[0]!, pgrp: Number(rest[2]), startTime: Number(rest[19]) };
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
