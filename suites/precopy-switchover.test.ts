import { describe, expect } from 'vitest';
import { startPairWithRam } from '../harness/migration/pair.js';
import { migrateAndVerify } from '../harness/migration/verify.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';

describe.each(testArches())('precopy-switchover %s', (arch) => {
  scenario('pause-before-switchover, then migrate-continue', { suite: 'precopy-switchover', arch }, async (ctx) => {
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, { mib: 32, rateMiBs: 16 });
    let seen: { src: string; srcRunning: boolean; dst: string } | undefined;
    await migrateAndVerify(pair, ctx, {
      beforeSwitchover: async (src, dst) => {
        // Held at pre-switchover: source stopped, destination not yet running.
        seen = { src: (await src.queryMigrate()).status ?? '', srcRunning: (await src.status()).running, dst: (await dst.status()).status };
      },
    });
    expect(seen).toEqual({ src: 'pre-switchover', srcRunning: false, dst: 'inmigrate' });
    await ram.check(pair.dst);
  });
});
