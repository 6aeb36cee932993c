import { describe, expect } from 'vitest';
import { groupMembers } from '../harness/host/procfs.js';
import { injectAt, when } from '../harness/faults/trigger.js';
import { assertSourceIntact, retryToFreshDestination } from '../harness/migration/checks.js';
import { GuestLostError } from '../harness/migration/errors.js';
import { startMigration } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { testArches } from '../harness/testing/arches.js';
import { startPostcopy } from '../harness/testing/postcopy.js';
import { scenario, type ScenarioContext } from '../harness/testing/scenario.js';
import { withDeadline, scaled } from '../harness/util/time.js';
import type { StartedVm } from '../harness/vm/started.js';

const SUITE = 'peer-crash';

/** Stops a VM and proves nothing of its process group is left. */
async function stopLeavingNothing(vm: StartedVm) {
  const pgid = vm.process.pid;
  const stopped = await vm.stop();
  expect(groupMembers(pgid)).toEqual([]);
  return stopped;
}

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  scenario('destination killed mid-precopy: the source fails over to running, retry succeeds', { suite: SUITE, arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, { mib: 32, rateMiBs: 16 });
    const m = await startMigration(src, dst, { parameters: { 'max-bandwidth': 32 << 20 }, expect: 'failed' });
    await injectAt(m, when.progress('active', 0.2), 'SIGKILL destination', () => dst.kill());
    const r = await m.finish();
    ctx.result.extra = { error: r.info['error-desc'] };
    await assertSourceIntact(src, ram);
    await retryToFreshDestination(ctx, src, ram);
  });

  scenario('destination killed in postcopy: the guest is lost, reported without hanging', { suite: SUITE, arch }, async (ctx) => {
    const run = await killInPostcopy(ctx, 'destination');
    // The source keeps a paused, stale guest: it must not run it again.
    expect((await run.src.status()).running).toBe(false);
    await stopLeavingNothing(run.src);
  });

  scenario('source killed in postcopy: the guest is lost, the paused destination is torn down', { suite: SUITE, arch }, async (ctx) => {
    const run = await killInPostcopy(ctx, 'source');
    // A destination in postcopy-paused ignores SIGTERM: teardown has to escalate to SIGKILL.
    const stopped = await stopLeavingNothing(run.dst);
    expect(stopped.exit.signal).toBe('SIGKILL');
  });

  /** SIGKILLs one side at postcopy-active 20%; the harness must report the lost guest, naming both sides, within a deadline. */
  async function killInPostcopy(ctx: ScenarioContext, side: 'source' | 'destination') {
    const run = await startPostcopy(ctx, arch, { bridged: false });
    const [victim, other] = side === 'source' ? [run.src, run.dst] : [run.dst, run.src];
    await injectAt(run.m, when.progress('postcopy-active', 0.2), `SIGKILL ${side}`, () => victim.kill());
    const err = await withDeadline('the harness to report the lost guest', scaled(60_000), run.m.finish().then(() => undefined, (e: Error) => e));
    expect(err).toBeInstanceOf(GuestLostError);
    const survivor = side === 'source' ? 'destination' : 'source';
    expect(err!.message).toMatch(
      new RegExp(`guest lost: the ${side} QEMU \\(${victim.name}, pid \\d+\\) was killed by SIGKILL during postcopy; the ${survivor} \\(${other.name}\\) is in postcopy-paused`),
    );
    ctx.result.verdict = 'guest lost, as expected';
    ctx.result.extra = { report: err!.message };
    return run;
  }
});
