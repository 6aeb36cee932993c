import { describe, expect } from 'vitest';
import { assertSourceIntact, waitForSample } from '../harness/migration/checks.js';
import { startMigration } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { verifyMigration } from '../harness/migration/verify.js';
import { runAccel } from '../harness/host/accel.js';
import { findBinary } from '../harness/qemu/catalog.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';
import { scaled } from '../harness/util/time.js';

// qtest's recipe: a dirty rate well above the bandwidth and a 1 ms downtime limit cannot converge.
const STARVED = { 'max-bandwidth': 3_000_000, 'downtime-limit': 1 };
// As fast as the guest can dirty; small, so each pass at 3 MB/s takes seconds, not minutes.
const HOT = { mib: 16, rateMiBs: 0 };

describe.each(testArches())('precopy-convergence %s', (arch) => {
  scenario('dirty rate above bandwidth does not converge; cancel leaves the source intact', { suite: 'precopy-convergence', arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, HOT);
    const m = await startMigration(src, dst, { parameters: STARVED, expect: 'cancelled' });
    const s = await waitForSample(m.sampler, 'four dirty syncs while still active', (x) => x.status === 'active' && (x.dirtySyncCount ?? 0) >= 4, scaled(300_000));
    expect(s.expectedDowntime ?? 0).toBeGreaterThan(STARVED['downtime-limit']);
    ctx.result.extra = { dirtySyncs: s.dirtySyncCount, expectedDowntimeMs: s.expectedDowntime, dirtyPagesRate: s.dirtyPagesRate };
    await src.qmp.execute('migrate_cancel');
    await m.finish();
    await assertSourceIntact(src, ram);
  });

  scenario('converges once max-bandwidth is raised', { suite: 'precopy-convergence', arch }, async (ctx) => {
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, HOT);
    const m = await startMigration(pair.src, pair.dst, { parameters: STARVED });
    await waitForSample(m.sampler, 'three dirty syncs without converging', (x) => x.status === 'active' && (x.dirtySyncCount ?? 0) >= 3, scaled(300_000));
    // 0 = no limit; a 300 ms downtime (QEMU's default) is reachable at loopback speed.
    await pair.src.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 0, 'downtime-limit': 300 });
    await verifyMigration(pair, ctx, await m.finish());
    await ram.check(pair.dst);
  });

  scenario('auto-converge throttles the vCPU until it converges', { suite: 'precopy-convergence', arch }, async (ctx) => {
    // Under TCG the guest at a 99% throttle still dirties ~10-15 MB/s; 64 MB/s leaves room.
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, { mib: 64, rateMiBs: 0 });
    const m = await startMigration(pair.src, pair.dst, {
      capabilities: { 'auto-converge': true },
      parameters: { 'max-bandwidth': 64_000_000, 'cpu-throttle-initial': 20, 'cpu-throttle-increment': 20 },
      timeoutMs: scaled(600_000),
    });
    const { migration } = await verifyMigration(pair, ctx, await m.finish());
    const throttle = migration.series.map((x) => x.cpuThrottle ?? 0);
    const rises = throttle.filter((v, i) => i > 0 && v > throttle[i - 1]!).length;
    ctx.result.extra = { maxThrottle: Math.max(...throttle), rises };
    expect(Math.max(...throttle)).toBeGreaterThanOrEqual(40);
    expect(rises).toBeGreaterThanOrEqual(2);
    await ram.check(pair.dst);
  });

  scenario('dirty-limit converges (needs KVM with a dirty ring)', { suite: 'precopy-convergence', arch }, async (ctx) => {
    const bin = await findBinary(arch);
    const accel = await runAccel(bin);
    if (accel.accel !== 'kvm') return ctx.skip(`dirty-limit needs KVM with a dirty ring; this run uses TCG for ${arch} (${accel.reason})`);
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, HOT, (b) => b.withAccelProps('dirty-ring-size=4096'));
    const m = await startMigration(pair.src, pair.dst, {
      capabilities: { 'dirty-limit': true },
      parameters: { 'max-bandwidth': 16_000_000, 'vcpu-dirty-limit': 1 },
      timeoutMs: scaled(600_000),
    });
    await verifyMigration(pair, ctx, await m.finish());
    await ram.check(pair.dst);
  });

  scenario('xbzrle: resent pages hit the cache', { suite: 'precopy-convergence', arch }, async (ctx) => {
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, { mib: 32, rateMiBs: 8 });
    const m = await startMigration(pair.src, pair.dst, {
      capabilities: { xbzrle: true },
      parameters: { 'max-bandwidth': 32_000_000, 'xbzrle-cache-size': 67_108_864 },
    });
    const { migration } = await verifyMigration(pair, ctx, await m.finish());
    const cache = (migration.info['xbzrle-cache'] ?? {}) as Record<string, number>;
    ctx.result.extra = { xbzrle: cache };
    // QEMU has no hit counter: `pages` counts pages sent xbzrle-encoded against their cached
    // copy, i.e. the cache hits; `cache-miss` the pages it had no copy of.
    expect(cache.pages ?? 0).toBeGreaterThan(0);
    expect(cache['cache-miss'] ?? 0).toBeGreaterThan(0);
    await ram.check(pair.dst);
  });
});
