import { describe, expect, it } from 'vitest';
import { PhaseClock, splitPhases, unionMs } from './phases.js';

describe('phases', () => {
  it('merges overlapping and touching intervals, clipped to the wall', () => {
    expect(unionMs([])).toBe(0);
    expect(unionMs([[0, 10], [5, 15], [15, 20], [30, 40]])).toBe(30);
    expect(unionMs([[30, 40], [0, 10]], 5, 35)).toBe(10);
    expect(unionMs([[50, 60]], 0, 40)).toBe(0);
  });

  it('splits a wall into boot, migrating (beyond boot) and harness, adding up to the wall', () => {
    const spans = [
      { kind: 'boot' as const, from: 0, to: 300 },
      // the destination starting while the source boots: counts once
      { kind: 'boot' as const, from: 100, to: 200 },
      // a migration begun while a VM still started: only its part after the boot is migrating
      { kind: 'migrating' as const, from: 250, to: 600 },
      { kind: 'migrating' as const, from: 700, to: 800 },
    ];
    const s = splitPhases(spans, 0, 1000);
    expect(s).toEqual({ bootMs: 300, migratingMs: 400, harnessMs: 300 });
    expect(s.bootMs + s.migratingMs + s.harnessMs).toBe(1000);
  });

  it('runs an open interval to the end of the wall, and clips what lies outside it', () => {
    expect(splitPhases([{ kind: 'migrating', from: 900 }], 0, 1000)).toEqual({ bootMs: 0, migratingMs: 100, harnessMs: 900 });
    expect(splitPhases([{ kind: 'boot', from: -50, to: 50 }], 0, 1000)).toEqual({ bootMs: 50, migratingMs: 0, harnessMs: 950 });
    expect(splitPhases([], 0, 1000)).toEqual({ bootMs: 0, migratingMs: 0, harnessMs: 1000 });
  });

  it('a clock records spans, an end only moves later, and time() ends its span when fn throws', async () => {
    const c = new PhaseClock();
    const s = c.begin('boot', 0);
    s.end(100);
    s.end(50);
    expect(s.to).toBe(100);
    c.add('migrating', 100, 200);
    await expect(c.time('migrating', async () => { throw new Error('x'); })).rejects.toThrow('x');
    const now = Date.now();
    const split = c.split(0, now + 10);
    expect(split.bootMs).toBe(100);
    expect(split.migratingMs).toBeGreaterThanOrEqual(100);
  });
});
