import { describe, expect, it } from 'vitest';
import { busyPct, hostCpu, parseHostCpu, parseStat, procStat } from './procfs.js';

describe('procfs', () => {
  it('reads a process line whose name has spaces and parentheses, and its CPU in ms', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ... starttime
    const line = '4242 (qemu (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 1200 300 20 0 5 0 98765 0 0';
    expect(parseStat(4242, line)).toEqual({ pid: 4242, comm: 'qemu (a) b', state: 'S', pgrp: 4242, startTime: 98765, cpuMs: 3000, childrenCpuMs: 15000 });
  });

  it("reads the machine's CPU: busy is all but idle and iowait, cores from the per-core lines", () => {
    const text = ['cpu  100 10 40 800 50 0 0 0 7 0', 'cpu0 50 5 20 400 25 0 0 0 0 0', 'cpu1 50 5 20 400 25 0 0 0 0 0', 'intr 1'].join('\n');
    expect(parseHostCpu(text)).toEqual({ cores: 2, busyMs: 1500, allMs: 10000 });
    expect(parseHostCpu('intr 1\n')).toBeUndefined();
    const later = { cores: 2, busyMs: 1500 + 900, allMs: 10000 + 1000 };
    expect(busyPct({ cores: 2, busyMs: 1500, allMs: 10000 }, later)).toBe(90);
    expect(busyPct(undefined, later)).toBeUndefined();
  });

  it('reads this machine and this process', () => {
    const me = procStat(process.pid)!;
    expect(me.cpuMs).toBeGreaterThanOrEqual(0);
    expect(me.childrenCpuMs).toBeGreaterThanOrEqual(0);
    expect(hostCpu()!.cores).toBeGreaterThanOrEqual(1);
  });
});
