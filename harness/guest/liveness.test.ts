import { describe, expect, it } from 'vitest';
import { agentContinuityProblems, continuityProblems, largestGap, medianInterval, switchoverWindow } from './liveness.js';
import type { Beat } from '../vm/heartbeat.js';

const beats = (vm: string, from: number, to: number, t0: number, mono0: number): Beat[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i, guestMono: mono0 + i * 0.015, guestReal: 0, hostMs: t0 + i * 15, vm }));

/** Answers to the agent's polls: the host's count, the guest's uptime. */
const polls = (vm: string, count: number, t0: number, up0: number, every = 60): Beat[] =>
  Array.from({ length: count }, (_, i) => ({ n: i + 1, guestMono: up0 + (i * every) / 1000, guestReal: Number.NaN, hostMs: t0 + i * every, vm }));

describe('agentContinuityProblems (liveness from the agent alone)', () => {
  const src = polls('src', 50, 0, 20);
  it('accepts the same boot id and an uptime that goes on', () => {
    // The host's poll count starts again on the destination: not a reset.
    expect(agentContinuityProblems(src, polls('dst', 30, 4000, 23.1), { src: 'b', dst: 'b' })).toEqual([]);
  });
  it('flags another boot id on the destination, or a new one after the handover', () => {
    expect(agentContinuityProblems(src, polls('dst', 30, 4000, 1), { src: 'b', dst: 'c' }).join('; ')).toMatch(/booted again \(boot id c, source's b\).*uptime went back across migration: 22\.94 -> 1 s/);
    expect(agentContinuityProblems(src, polls('dst', 30, 4000, 23.1), { src: 'b', dst: 'b', dstAgain: 'd' })).toEqual(['destination guest booted again after the handover (boot id d, before b)']);
  });
  it('flags an uptime that goes back on the destination', () => {
    const dst = [...polls('dst', 10, 4000, 23.1), ...polls('dst', 5, 9000, 2)];
    expect(agentContinuityProblems(src, dst, { src: 'b', dst: 'b' })).toEqual(['guest uptime went back on the destination: 23.64 then 2 s (guest reset?)']);
  });
  it('flags silence on either side', () => {
    expect(agentContinuityProblems([], [], {})).toEqual(["no answer from the source's agent before migration"]);
    expect(agentContinuityProblems(src, [], { src: 'b', dst: 'b' })).toEqual(["no answer from the destination's agent"]);
  });
  it('states its resolution as the median poll interval', () => {
    expect(medianInterval(src)).toBe(60);
    expect(medianInterval(src.slice(0, 1))).toBe(0);
  });
});

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
