import { describe, expect, it } from 'vitest';
import { MigrationSampler } from './stats.js';
import type { StartedVm } from '../vm/started.js';

/** A source that says `active` forever: only stop() ends its sampling. */
function activeSource(): { vm: StartedVm; queries: () => number } {
  let n = 0;
  const vm = {
    qmp: { closed: false },
    queryMigrate: async () => {
      n++;
      return { status: 'active', ram: { transferred: n } };
    },
  } as unknown as StartedVm;
  return { vm, queries: () => n };
}

describe('MigrationSampler', () => {
  it('stop() ends the pause between samples at once instead of waiting it out', async () => {
    const { vm, queries } = activeSource();
    // An hour between samples: a stop() that waited for the pause would never settle here.
    const sampler = new MigrationSampler(vm, 3_600_000);
    while (queries() < 1) await new Promise((r) => setImmediate(r));
    const stopped = sampler.stop().then((s) => s.length);
    const winner = await Promise.race([stopped, new Promise((r) => setTimeout(() => r('still waiting'), 2_000))]);
    expect(winner).toBe(1);
  });
});
