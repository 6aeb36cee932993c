import { describe, expect } from 'vitest';
import { caseScenario, DEADLINES, fault, scale, testArches, when, type CaseReport, type MigrationCase, type Side, type StartedVm } from '../harness/index.js';

const SUITE = 'peer-crash';

/** Stops a VM and proves nothing of its process group is left. */
async function stopLeavingNothing(vm: StartedVm) {
  const stopped = await vm.stop();
  // Read on the VM's own host: across two hosts, that is another machine.
  expect((await vm.group()).members).toEqual([]);
  return stopped;
}

/** The harness reported the lost guest, naming both sides, within a deadline of the kill. */
function lostGuestReported({ outcome, run, faults }: CaseReport, side: Side) {
  const [victim, other] = side === 'source' ? [run.src, run.dst] : [run.dst, run.src];
  const survivor = side === 'source' ? 'destination' : 'source';
  expect(Date.now() - faults[0]!.at).toBeLessThan(scale(DEADLINES.event));
  expect(outcome.kind === 'guest-lost' && outcome.error).toMatch(
    new RegExp(`guest lost: the ${side} QEMU \\(${victim.name}, pid \\d+\\) was killed by SIGKILL during postcopy; the ${survivor} \\(${other.name}\\) is in postcopy-paused`),
  );
}

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE };
  caseScenario({
    id: 'destination killed mid-precopy: the source fails over to running, retry succeeds', arch, migration: { parameters: { 'max-bandwidth': 32 << 20 } },
    faults: [fault.kill('destination', when.progress('active', 0.2))], expect: { kind: 'fails', status: 'failed' },
  }, meta);

  // SIGKILL one side at postcopy-active 20%.
  const killedInPostcopy = (id: string, side: Side): MigrationCase => ({
    id, arch, migration: { mode: 'postcopy' }, faults: [fault.kill(side, when.progress('postcopy-active', 0.2))], expect: { kind: 'guest-lost', side },
  });
  const said = ({ outcome }: CaseReport) => ({ extra: { report: outcome.kind === 'guest-lost' ? outcome.error : undefined } });

  caseScenario(killedInPostcopy('destination killed in postcopy: the guest is lost, reported without hanging', 'destination'), meta, async (report) => {
    lostGuestReported(report, 'destination');
    // The source keeps a paused, stale guest: it must not run it again.
    expect((await report.run.src.status()).running).toBe(false);
    await stopLeavingNothing(report.run.src);
    return said(report);
  });

  caseScenario(killedInPostcopy('source killed in postcopy: the guest is lost, the paused destination is torn down', 'source'), meta, async (report) => {
    lostGuestReported(report, 'source');
    // A destination in postcopy-paused ignores SIGTERM: teardown has to escalate to SIGKILL.
    const stopped = await stopLeavingNothing(report.run.dst);
    expect(stopped.exit.signal).toBe('SIGKILL');
    return said(report);
  });
});
