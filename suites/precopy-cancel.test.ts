import { describe, expect } from 'vitest';
import { PortBlackhole } from '../harness/faults/nft.js';
import { loopbackListener } from '../harness/host/ports.js';
import { applySettings } from '../harness/migration/apply.js';
import { assertSourceIntact, retryToFreshDestination } from '../harness/migration/checks.js';
import { migrate, startIncoming } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { migrateAndVerify } from '../harness/migration/verify.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';
import { scaled } from '../harness/util/time.js';
import type { StartedVm } from '../harness/vm/started.js';

const WORKLOAD = { mib: 32, rateMiBs: 16 };
const SLOW = { 'max-bandwidth': 2_000_000 }; // 2 MB/s: a 256 MiB guest stays in 'active' for minutes

/** Cancels and waits for the source's MIGRATION 'cancelled'. */
async function cancel(src: StartedVm, since: number): Promise<void> {
  await src.qmp.execute('migrate_cancel');
  await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'cancelled', scaled(60_000), since);
}

describe.each(testArches())('precopy-cancel %s', (arch) => {
  scenario('migrate_cancel in setup (connect blackholed): source intact', { suite: 'precopy-cancel', arch }, async (ctx) => {
    const { src, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    // A port of ours whose SYNs are dropped: connect() hangs, the migration stays in setup.
    const listener = await loopbackListener();
    const port = listener.port;
    const hole = await PortBlackhole.start(port);
    try {
      await applySettings(src, {});
      const mark = src.qmp.mark();
      await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
      await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'setup', scaled(30_000), mark);
      expect((await src.queryMigrate()).status).toBe('setup');
      await cancel(src, mark);
      // QEMU's connect is still pending after the cancel and holds its yank instance: a new
      // migrate before it resolves fails with "duplicate yank instance" (seen on 10.0.2).
      // Let the retransmitted SYN through and wait until QEMU has closed that connection.
      await hole.stop();
      await listener.waitForClosedConnection('the cancelled connect attempt to reach us and be closed by QEMU', scaled(30_000));
    } finally {
      await hole.stop();
      await listener.close();
    }
    await assertSourceIntact(src, ram);
    await retryToFreshDestination(ctx, src, ram);
  });

  scenario('migrate_cancel while active: source intact, retry succeeds', { suite: 'precopy-cancel', arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    const m = await migrate(src, dst, {
      parameters: SLOW,
      expect: 'cancelled',
      onActive: async (s) => {
        expect((await s.queryMigrate()).status).toBe('active');
        await s.qmp.execute('migrate_cancel');
      },
    });
    const statuses = src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => e.data?.status);
    expect(statuses.slice(-3)).toEqual(['active', 'cancelling', 'cancelled']);
    expect(m.status).toBe('cancelled');
    await assertSourceIntact(src, ram);
    await retryToFreshDestination(ctx, src, ram);
  });

  scenario('migrate_cancel in pre-switchover: the source resumes', { suite: 'precopy-cancel', arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    const m = await migrate(src, dst, {
      expect: 'cancelled',
      beforeSwitchover: async (s) => {
        expect((await s.queryMigrate()).status).toBe('pre-switchover');
        // The source's vCPUs are stopped here: the guest is frozen until continue or cancel.
        expect((await s.status()).running).toBe(false);
        await s.qmp.execute('migrate_cancel');
      },
    });
    expect(m.status).toBe('cancelled');
    await assertSourceIntact(src, ram);
  });

  scenario('migrate_cancel after completion changes nothing', { suite: 'precopy-cancel', arch }, async (ctx) => {
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    await migrateAndVerify(pair, ctx);
    await pair.src.qmp.execute('migrate_cancel');
    expect((await pair.src.queryMigrate()).status).toBe('completed');
    expect((await pair.src.status()).status).toBe('postmigrate');
    expect((await pair.dst.status()).status).toBe('running');
    await pair.dst.heartbeat!.waitForBeats(20);
    await ram.check(pair.dst);
  });
});
