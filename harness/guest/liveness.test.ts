import { describe, expect, it } from 'vitest';
import { continuityProblems, largestGap, switchoverWindow } from './liveness.js';
import type { Beat } from '../vm/heartbeat.js';

const beats = (vm: string, from: number, to: number, t0: number, mono0: number): Beat[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i, guestMono: mono0 + i * 0.015, guestReal: 0, hostMs: t0 + i * 15, vm }));

describe('continuityProblems', () => {
  const src = beats('src', 1, 100, 0, 5);
  it('accepts a counter that continues across the handover', () => {
    expect(continuityProblems(src, beats('dst', 101, 140, 2000, 6.5), undefined, 'b')).toEqual([]);
  });
  it('flags a reset: counter restarted and the guest booted again', () => {
    const p = continuityProblems(src, beats('dst', 1, 40, 9000, 0.5), 'new-boot', 'b');
    expect(p.join('; ')).toMatch(/booted again/);
    expect(p.join('; ')).toMatch(/counter restarted/);
    expect(p.join('; ')).toMatch(/clock went back/);
  });
  it('flags lost beats and jumps on the destination', () => {
    expect(continuityProblems(src, beats('dst', 105, 110, 2000, 7), undefined, 'b')[0]).toMatch(/lost across the handover/);
    const jumped = [...beats('dst', 101, 110, 2000, 7), ...beats('dst', 1, 5, 4000, 0.1)];
    expect(continuityProblems(src, jumped, undefined, 'b')[0]).toMatch(/jumped on the destination: 110 then 1/);
  });
  it('flags silence on either side', () => {
    expect(continuityProblems([], [], undefined, undefined)).toEqual(['no heartbeat from the source before migration']);
    expect(continuityProblems(src, [], undefined, undefined)).toEqual(['no heartbeat from the destination']);
    // A reset seen by its READY line before any beat arrived (the liveness wait ends on it at once).
    expect(continuityProblems(src, [], 'b2', 'b1')).toEqual(['destination guest booted again (READY boot=b2, source boot=b1)', 'no heartbeat from the destination']);
  });
  it('measures the largest host-observed gap', () => {
    expect(largestGap([...src, ...beats('dst', 101, 110, 2000, 7)]).gapMs).toBe(2000 - 99 * 15);
  });
});

describe('switchoverWindow', () => {
  const b = (hostMs: number, n: number) => ({ n, guestMono: n / 60, guestReal: 0, hostMs, vm: 'src' });
  it('keeps the last beat before the migration started and every one after', () => {
    // A restored guest's first beats are uneven (a 300 ms gap before the migration): not the migration's.
    const beats = [b(0, 1), b(300, 2), b(316, 3), b(332, 4), b(348, 5)];
    expect(switchoverWindow(beats, 320).map((x) => x.n)).toEqual([3, 4, 5]);
  });
  it('without a start, the last 200 beats', () => {
    expect(switchoverWindow(Array.from({ length: 250 }, (_, i) => b(i * 16, i))).length).toBe(200);
  });
});
