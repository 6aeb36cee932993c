import { describe, expect } from 'vitest';
import { when, caseScenario, checkLivenessAfterMigration, testArches, type CaseReport, type PreparedRun, type RunState, type StartedVm } from '../harness/index.js';

// A guest that was not running when migrated must not run on the destination either: QEMU
// carries the run state. Verification expects the source's state on the destination
// (paused for a `stop`, suspended for an S3 suspend), then the guest is resumed there and
// must continue where it stopped: heartbeat counter unbroken, RAM intact.
describe.each(testArches())('runstate %s', (arch) => {
  const meta = { suite: 'runstate' };

  /** Resumed on the destination, the guest continues where it stopped: counter unbroken, RAM intact. */
  const resumedThere = (want: RunState, resume: (dst: StartedVm) => Promise<unknown>) => async ({ run, destinationRunState }: CaseReport) => {
    expect(destinationRunState).toBe(want);
    await resume(run.dst);
    const live = await checkLivenessAfterMigration(run.src, run.dst);
    const ram = await run.ram!.check(run.dst);
    return { guestDowntimeMs: live.guestObservedDowntimeMs, extra: { destinationRunState, ramPages: ram.pages } };
  };
  const stop = async ({ src }: PreparedRun) => void (await src.qmp.execute('stop'));
  caseScenario({ id: 'a guest stopped before migrating stays paused on the destination; cont resumes it', arch, hooks: { start: stop } }, meta, resumedThere('paused', (dst) => dst.qmp.execute('cont')));

  // The virt machine has no ACPI S3: an Arm guest only idles in s2idle and QEMU never sees a suspend.
  const noS3 = { kind: 'skip', reason: 'the aarch64 virt machine has no suspend-to-RAM (no ACPI S3; the guest offers only s2idle, which QEMU does not see)' } as const;
  caseScenario(
    { id: 'a guest suspended to RAM stays suspended on the destination; system_wakeup resumes it', arch, hooks: { start: ({ src }) => src.suspend() }, expect: arch === 'aarch64' ? noS3 : undefined },
    meta,
    resumedThere('suspended', (dst) => dst.wakeup()),
  );
  // The same in postcopy (qtest's postcopy/suspend): switched at once, the suspended guest
  // dirtying nothing would otherwise converge in precopy.
  caseScenario(
    {
      id: 'a guest suspended to RAM and migrated in postcopy stays suspended; system_wakeup resumes it', arch,
      migration: { mode: 'postcopy', postcopy: { switchAfter: when.status('active') } },
      hooks: { start: ({ src }) => src.suspend() }, expect: arch === 'aarch64' ? noS3 : undefined,
    },
    meta,
    resumedThere('suspended', (dst) => dst.wakeup()),
  );
});
