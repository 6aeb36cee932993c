import { describe, expect } from 'vitest';
import { BridgeChain } from '../harness/faults/bridge.js';
import { NetnsLink } from '../harness/faults/netns.js';
import { injectAt, when } from '../harness/faults/trigger.js';
import { assertSourceIntact, retryToFreshDestination } from '../harness/migration/checks.js';
import { startMigration } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';

const SUITE = 'precopy-faults';
const WORKLOAD = { mib: 32, rateMiBs: 16 };
// 32 MiB/s: a 256 MiB guest stays in 'active' for a few seconds, long enough to be hit.
const SLOW = { 'max-bandwidth': 32 << 20 };

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  scenario('bridge killed during precopy: failed, source intact, retry succeeds', { suite: SUITE, arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    const bridges = ctx.track(new BridgeChain(ctx.artifacts));
    const m = await startMigration(src, dst, { parameters: SLOW, route: bridges.route, expect: 'failed' });
    await injectAt(m, when.progress('active', 0.2), 'bridge killed', () => bridges.current.kill());
    const r = await m.finish();
    expect(r.info['error-desc']).toBeTruthy();
    ctx.result.extra = { error: r.info['error-desc'] };
    await assertSourceIntact(src, ram);
    await retryToFreshDestination(ctx, src, ram);
  });

  scenario('bridge stalled (SIGSTOP): no progress, cancelled, source intact, retry succeeds', { suite: SUITE, arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    const bridges = ctx.track(new BridgeChain(ctx.artifacts));
    const m = await startMigration(src, dst, { parameters: SLOW, route: bridges.route, expect: 'cancelled' });
    await injectAt(m, when.progress('active', 0.2), 'bridge stalled', () => bridges.current.stall());
    // A hang is silent: QEMU reports no error, the figures just stop. Cancel once that is seen.
    const stuck = await when.stalled('active', 2000).wait(m);
    await src.qmp.execute('migrate_cancel');
    const r = await m.finish();
    expect(r.status).toBe('cancelled');
    ctx.result.extra = { stuckAtBytes: stuck.transferred };
    await assertSourceIntact(src, ram);
    await retryToFreshDestination(ctx, src, ram);
  });

  scenario('silent partition (netns + nftables drop) during precopy: cancelled, source intact, healed retry succeeds', { suite: SUITE, arch }, async (ctx) => {
    const link = ctx.track(await NetnsLink.create());
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD, {
      configure: (b) => b.withNetns(link.a.name),
      configureDst: (b) => b.withNetns(link.b.name),
    });
    const m = await startMigration(src, dst, { parameters: SLOW, listenHost: link.b.addr, expect: 'cancelled' });
    expect(m.uri).toMatch(new RegExp(`^tcp:${link.b.addr.replace(/\./g, '\\.')}:\\d+$`));
    await injectAt(m, when.progress('active', 0.2), 'partition', () => link.partition());
    await when.stalled('active', 2000).wait(m);
    await src.qmp.execute('migrate_cancel');
    expect((await m.finish()).status).toBe('cancelled');
    await assertSourceIntact(src, ram);
    await link.heal();
    await retryToFreshDestination(ctx, src, ram, { listenHost: link.b.addr, configure: (b) => b.withNetns(link.b.name) });
  });
});
