import { describe, expect } from 'vitest';
import { behaviourOf, caseScenario, KNOWN_FAILURES, fault, testArches, when, type MigratingRun } from '../harness/index.js';

const SLOW = { 'max-bandwidth': 2_000_000 }; // 2 MB/s: a 256 MiB guest stays in 'active' for minutes
const cancelled = { kind: 'fails', status: 'cancelled' } as const;

describe.each(testArches())('precopy-cancel %s', (arch) => {
  const meta = { suite: 'precopy-cancel' };

  // The source connects to a loopback port whose SYNs are dropped: the migration stays in
  // setup. After the cancel, what the source says while its connect still hangs is version
  // data (qemu/behaviour.ts: 10.0 cancels at once, 11.1 stays cancelling until the connect
  // ends and refuses a second migrate meanwhile), checked by the harness; then the connect is
  // let through and closed by QEMU, and a retry to a fresh destination succeeds.
  caseScenario({ id: 'migrate_cancel in setup (connect hangs): source intact, retry succeeds', arch, migration: { connect: 'hangs' }, faults: [fault.cancel(when.status('setup'))], expect: cancelled }, meta, ({ run, retry }) => {
    // 7.2 says setup twice: the sequence, each status once.
    const statuses = run.src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => String(e.data?.status)).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses.slice(0, statuses.indexOf('cancelled') + 1)).toEqual(['setup', 'cancelling', 'cancelled']);
    expect(retry).toBeDefined();
    return { extra: { cancelWhileConnecting: behaviourOf(run.versions.src).cancelWhileConnecting.status } };
  });

  // A second migrate while the cancelled connect still hangs must be refused as in progress
  // (the first is not over). 10.0.x ends the cancel at once instead, and fails the second
  // with "duplicate yank instance": a regression, fixed upstream in 11.1 (qemu/behaviour.ts).
  // The case says the right behaviour, and the versions that do not have it yet.
  caseScenario({
    id: 'a second migrate while a cancelled connect still hangs is refused as in progress',
    arch,
    migration: { connect: 'hangs' },
    faults: [
      fault.cancel(when.status('setup')),
      fault.custom('a second migrate', when.status('cancelling', 'cancelled'), ({ src }) => src.qmp.execute('migrate', { uri: 'tcp:127.0.0.1:1' })),
    ],
    expect: {
      kind: 'xfail',
      ...KNOWN_FAILURES.secondMigrateWhileCancelling,
      expect: { kind: 'refused', side: 'source', stage: 'settings', message: 'duplicate yank instance', why: 'the stale connect still holds its yank instance' },
      otherwise: { kind: 'refused', side: 'source', stage: 'settings', message: "There's a migration process in progress", why: 'the cancel is not over until the connect gives up' },
    },
  }, meta);

  const cancelWhile = (status: string) => async ({ src }: MigratingRun) => {
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

  // qtest's /migration/cancel/src/after/<status>: a cancel in each status the source can be in.
  caseScenario({
    id: 'migrate_cancel with no migration changes nothing; the migration then completes', arch,
    hooks: { start: async ({ src, dst }) => void (await src.qmp.execute('migrate_cancel'), await dst.qmp.execute('migrate_cancel')) },
  }, meta);
  caseScenario({
    id: 'migrate_cancel again while cancelling, and once cancelled: still cancelled, source intact', arch, migration: { parameters: SLOW },
    faults: [fault.cancel(when.status('active')), fault.custom('migrate_cancel again', when.status('cancelling', 'cancelled'), ({ src }) => src.qmp.execute('migrate_cancel'))],
    expect: cancelled, retry: false,
    hooks: { end: async ({ src }) => void (await src.qmp.execute('migrate_cancel'), expect((await src.queryMigrate()).status).toBe('cancelled')) },
  }, meta);
  caseScenario({
    id: 'migrate_cancel after a failed migration leaves it failed', arch, migration: { connect: 'refused' }, expect: { kind: 'fails', status: 'failed' }, retry: false,
    hooks: { end: async ({ src }) => void (await src.qmp.execute('migrate_cancel'), expect((await src.queryMigrate()).status).toBe('failed')) },
  }, meta);

  caseScenario({ id: 'migrate_cancel after completion changes nothing', arch }, meta, async ({ run }) => {
    await run.src.qmp.execute('migrate_cancel');
    expect((await run.src.queryMigrate()).status).toBe('completed');
    expect((await run.src.status()).status).toBe('postmigrate');
    expect((await run.dst.status()).status).toBe('running');
    await run.dst.heartbeat!.waitForBeats(20);
    await run.ram!.check(run.dst);
  });
});
