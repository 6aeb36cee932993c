import { describe, expect } from 'vitest';
import { PortBlackhole } from '../harness/faults/nft.js';
import { loopbackListener } from '../harness/host/ports.js';
import { applySettings } from '../harness/migration/apply.js';
import { assertSourceIntact, retryToFreshDestination } from '../harness/migration/checks.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import type { CaseRun } from '../harness/case/model.js';
import { DEFAULT_WORKLOAD } from '../harness/case/run.js';
import { testArches } from '../harness/testing/arches.js';
import { caseScenario, scenario } from '../harness/testing/scenario.js';

const SLOW = { 'max-bandwidth': 2_000_000 }; // 2 MB/s: a 256 MiB guest stays in 'active' for minutes

describe.each(testArches())('precopy-cancel %s', (arch) => {
  const meta = { suite: 'precopy-cancel', arch };

  scenario('migrate_cancel in setup (connect blackholed): source intact', { ...meta, oneHost: 'blackholes a loopback port of this machine with nftables' }, async (ctx) => {
    const { src, ram } = await startPairWithRam(ctx.vms, arch, DEFAULT_WORKLOAD);
    // A port of ours whose SYNs are dropped: connect() hangs, the migration stays in setup.
    const listener = await loopbackListener();
    const hole = await PortBlackhole.start(listener.port);
    try {
      await applySettings(src, {});
      const since = src.qmp.mark();
      await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${listener.port}` });
      await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'setup', { since, timeoutMs: 30_000 });
      expect((await src.queryMigrate()).status).toBe('setup');
      await src.qmp.execute('migrate_cancel');
      await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'cancelled', { since });
      // QEMU's connect is still pending after the cancel and holds its yank instance: a new
      // migrate before it resolves fails with "duplicate yank instance" (seen on 10.0.2).
      // Let the retransmitted SYN through and wait until QEMU has closed that connection.
      await hole.stop();
      await listener.waitForClosedConnection('the cancelled connect attempt to reach us and be closed by QEMU');
    } finally {
      await hole.stop();
      await listener.close();
    }
    await assertSourceIntact(src, ram);
    return { extra: { retry: (await retryToFreshDestination(ctx.vms, src, ram)).figures } };
  });

  const cancelled = { kind: 'fails', status: 'cancelled' } as const;
  const cancelWhile = (status: string) => async ({ src }: CaseRun) => {
    expect((await src.queryMigrate()).status).toBe(status);
    // In pre-switchover the source's vCPUs are stopped: the guest is frozen until continue or cancel.
    if (status === 'pre-switchover') expect((await src.status()).running).toBe(false);
    await src.qmp.execute('migrate_cancel');
  };
  caseScenario({ id: 'migrate_cancel while active: source intact, retry succeeds', arch, migration: { parameters: SLOW }, hooks: { onActive: cancelWhile('active') }, expect: cancelled }, meta, ({ run }) => {
    const statuses = run.src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => e.data?.status);
    // The retry's own events come after: look at the attempt's.
    const end = statuses.indexOf('cancelled');
    expect(statuses.slice(end - 2, end + 1)).toEqual(['active', 'cancelling', 'cancelled']);
  });
  caseScenario({ id: 'migrate_cancel in pre-switchover: the source resumes', arch, hooks: { beforeSwitchover: cancelWhile('pre-switchover') }, expect: cancelled, retry: false }, meta);

  caseScenario({ id: 'migrate_cancel after completion changes nothing', arch }, meta, async ({ run }) => {
    await run.src.qmp.execute('migrate_cancel');
    expect((await run.src.queryMigrate()).status).toBe('completed');
    expect((await run.src.status()).status).toBe('postmigrate');
    expect((await run.dst.status()).status).toBe('running');
    await run.dst.heartbeat!.waitForBeats(20);
    await run.ram!.check(run.dst);
  });
});
