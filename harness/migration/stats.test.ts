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
  const settlesWithin2s = (p: Promise<number>) => Promise.race([p, new Promise((r) => setTimeout(() => r('still waiting'), 2_000))]);

  it('stop() ends the pause between samples at once instead of waiting it out', async () => {
    const { vm } = activeSource();
    // An hour between samples: a stop() that waited for the pause would never settle here.
    const sampler = new MigrationSampler(vm, 3_600_000);
    // The first sample taken, then a turn of the event loop: the sampler is in its pause.
    while (sampler.samples.length < 1) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(await settlesWithin2s(sampler.stop().then((s) => s.length))).toBe(1);
  });

  it('a stop() while a sample is being taken keeps that sample and ends there', async () => {
    const { vm, queries } = activeSource();
    const sampler = new MigrationSampler(vm, 3_600_000);
    expect(queries()).toBe(1);
    expect(await settlesWithin2s(sampler.stop().then((s) => s.length))).toBe(1);
  });
});
