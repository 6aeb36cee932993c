import { describe, expect, it } from 'vitest';
import { continuityProblems, largestGap } from './liveness.js';
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
