import { describe, expect, it } from 'vitest';
import type { RunningMigration } from './migrate.js';
import type { MigrationSample } from './stats.js';
import { TriggerMissedError, when } from './triggers.js';

/** A stand-in for a running migration: only the sampler's series matters to triggers. */
function fakeMigration(series: MigrationSample[]) {
  const samples: MigrationSample[] = [];
  const m = { src: { name: 'src' }, sampler: { samples } } as unknown as RunningMigration;
  // Feed one sample every few ms, as the real sampler would.
  let i = 0;
  const t = setInterval(() => (i < series.length ? samples.push(series[i++]!) : clearInterval(t)), 2);
  return m;
}

const s = (t: number, status: string, transferred: number, remaining: number, dirtySyncCount = 1): MigrationSample => ({
  t,
  status,
  transferred,
  remaining,
  dirtySyncCount,
});

describe('triggers', () => {
  it('progress: fires once the share of what remained at the status start is sent', async () => {
    const m = fakeMigration([s(0, 'active', 0, 100), s(1, 'postcopy-active', 10, 80), s(2, 'postcopy-active', 20, 70), s(3, 'postcopy-active', 30, 60)]);
    const hit = await when.progress('postcopy-active', 0.2).wait(m, { timeoutMs: 2000 });
    expect(hit.remaining).toBe(60);
  });

  it('passes: dirty-sync-count past n', async () => {
    const m = fakeMigration([s(0, 'active', 0, 100, 1), s(1, 'active', 50, 50, 2)]);
    expect((await when.passes(1).wait(m, { timeoutMs: 2000 })).dirtySyncCount).toBe(2);
  });

  it('stalled: the same figure for long enough', async () => {
    const m = fakeMigration([s(0, 'active', 5, 9), s(1000, 'active', 7, 9), s(2000, 'active', 7, 9), s(3100, 'active', 7, 9)]);
    expect((await when.stalled('active', 2000).wait(m, { timeoutMs: 2000 })).t).toBe(3100);
  });

  it('a migration that ends first is a miss, not a hang', async () => {
    const m = fakeMigration([s(0, 'active', 0, 100), s(1, 'completed', 100, 0)]);
    await expect(when.progress('postcopy-active', 0.2).wait(m, { timeoutMs: 2000 })).rejects.toBeInstanceOf(TriggerMissedError);
  });

  it('a bad fraction is refused up front', () => {
    expect(() => when.progress('active', 1.5)).toThrow(/\[0, 1\)/);
  });
});
