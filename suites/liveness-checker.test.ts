import { describe, expect } from 'vitest';
import { caseScenario, DEADLINES, GuestResetError, type MigratingRun, checkLivenessAfterMigration, checkLivenessSteady, LivenessError, migrationFigures, scenario, startPair, testArches, VmBuilder, type ScenarioContext } from '../harness/index.js';

// The liveness checker must be able to fail: real faults injected on the destination right
// after switchover, plus a control run (same guest, no migration) that must pass.
describe.each(testArches())('liveness-checker %s', (arch) => {
  const meta = { suite: 'liveness-checker', arch, oneHost: "a checker's own fault or control run, on this machine" };
  // Each kind of liveness: migtest's heartbeat, and the agent alone (a guest without the
  // heartbeat: no heartbeat port at all). Each must catch the same faults, and its control
  // (the same guest left alone) must pass.
  const kinds = [
    // A reset must be seen as one (from the agent too: 600 answers outlast the deadline, so
    // "not alive" would pass whatever the check saw); a stop as a silence, well before the
    // deadline a running guest's beats would beat.
    { liveness: 'heartbeat', prefix: '', minBeats: 100, stopBeats: 100, reset: /restarted|booted again|jumped|clock went back|not alive/, stopped: /not alive.*status: paused/ },
    { liveness: 'agent', prefix: 'agent only: ', minBeats: 20, stopBeats: 40, reset: /booted again|uptime went back/, stopped: /not alive: .* answers from the destination's agent .*status: paused/ },
  ] as const;
  for (const k of kinds) {
    scenario(`${k.prefix}control: same guest without migration stays alive`, meta, async (ctx) => {
      const vm = await ctx.vms.start(new VmBuilder('src', arch).withLiveness(k.liveness));
      await vm.waitReady();
      expect(vm.spec.heartbeat).toBe(k.liveness === 'heartbeat');
      const steady = await checkLivenessSteady(vm, 3000);
      expect(steady.beats).toBeGreaterThan(k.minBeats);
      return { guestDowntimeMs: steady.largestGapMs };
    });

    /** A pair migrated and verified, then the checker pointed at a destination broken on purpose. */
    const migrated = async (ctx: ScenarioContext) => {
      const report = await (await (await startPair(ctx, { id: 'a pair to break', arch, workload: false, source: { liveness: k.liveness } })).migrate()).finish();
      expect(report.liveness?.from).toBe(k.liveness);
      ctx.record(migrationFigures(report.migration!, report.liveness));
      return report.run;
    };

    scenario(`${k.prefix}fault: destination reset after switchover is caught`, meta, async (ctx) => {
      const run = await migrated(ctx);
      await run.dst.qmp.execute('system_reset');
      const err = await checkLivenessAfterMigration(run.src, run.dst, { beats: 600 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LivenessError);
      expect(String((err as Error).message)).toMatch(k.reset);
      return { extra: { caught: (err as Error).message } };
    });

    scenario(`${k.prefix}fault: destination stopped after switchover is caught`, meta, async (ctx) => {
      const run = await migrated(ctx);
      await run.dst.qmp.execute('stop');
      const since = run.dst.heartbeat!.beats.length;
      const err = await checkLivenessAfterMigration(run.src, run.dst, { beats: since + k.stopBeats, timeoutMs: DEADLINES.expectedToFail }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LivenessError);
      expect(String((err as Error).message)).toMatch(k.stopped);
      return { extra: { caught: (err as Error).message } };
    });
  }

  // The same fault before the harness verifies: the case reports the wrong run state by name.
  caseScenario(
    {
      id: 'a destination stopped right after switchover is reported as the wrong run state',
      arch,
      workload: false,
      hooks: { completed: async ({ dst }) => void (await dst.qmp.execute('stop')) },
      expect: { kind: 'wrong-run-state', side: 'destination', got: 'paused', why: 'the destination was stopped before the harness verified it' },
    },
    { suite: 'liveness-checker' },
  );

  // The kernel may die before the agent answers guest-exec (seen on aarch64 under load): the
  // reset that ends the request then is the crash asked for, for the case to find.
  const crashGuest = async (run: MigratingRun) =>
    void (await (await run.dst.agent()).spawn('/bin/busybox', ['sh', '-c', 'echo c > /proc/sysrq-trigger']).catch((e: unknown) => {
      if (!(e instanceof GuestResetError)) throw e;
    }));

  // A guest kernel that dies on the destination takes its agent with it: the case says
  // guest-died and quotes the console, instead of timing out on an agent that never answers.
  caseScenario(
    {
      id: 'fault: the guest kernel crashes on the destination in postcopy (sysrq c): guest-died, the console quoted',
      arch,
      migration: { mode: 'postcopy' },
      hooks: { inPostcopy: crashGuest },
      expect: { kind: 'guest-dies', why: 'the guest kernel was made to crash (sysrq c) once it ran on the destination' },
    },
    { suite: 'liveness-checker' },
    ({ outcome, run }) => {
      expect(outcome.kind).toBe('guest-died');
      expect('error' in outcome && outcome.error).toMatch(/the guest kernel crashed on the destination: .*(sysrq|Kernel panic)/);
      expect(run.dst.kernelCrash()).toBeDefined();
      return { extra: { caught: 'error' in outcome ? outcome.error : undefined } };
    },
  );

  // A known flake gets one more attempt on a fresh pair and passes only if that one does. The
  // flake is made here: the guest's kernel crashed (sysrq c) in the first attempt only.
  let attempts = 0;
  caseScenario(
    {
      id: 'a known flake (the guest crashed in the first attempt only) passes on a second attempt, the first kept in the row',
      arch,
      migration: { mode: 'postcopy' },
      hooks: { inPostcopy: async (run) => void (attempts++ === 0 && (await crashGuest(run))) },
      knownFlakes: [{ id: 'made-on-purpose', arch, modes: ['postcopy'], outcome: 'guest-died', message: /sysrq|Kernel panic/, why: "the first attempt's guest crashed on purpose (sysrq c)" }],
    },
    { suite: 'liveness-checker' },
    (report, ctx) => {
      expect(attempts).toBe(2);
      expect(report.outcome.kind).toBe('migrated');
      expect(report.verdict).toMatch(/second attempt: the first hit known flake made-on-purpose/);
      expect(ctx.row.extra?.knownFlake).toMatch(/^first attempt \(artifacts kept here\): .*guest kernel crashed on the destination/);
    },
  );
});
