import { describe, expect } from 'vitest';
import { checkLivenessAfterMigration, checkLivenessSteady, LivenessError } from '../harness/guest/liveness.js';
import { migrate } from '../harness/migration/migrate.js';
import { startPair } from '../harness/migration/pair.js';
import { migrationFigures } from '../harness/migration/verify.js';
import { testArches } from '../harness/testing/arches.js';
import { caseScenario, scenario } from '../harness/testing/scenario.js';
import { VmBuilder } from '../harness/vm/builder.js';

// The liveness checker must be able to fail: real faults injected on the destination right
// after switchover, plus a control run (same guest, no migration) that must pass.
describe.each(testArches())('liveness-checker %s', (arch) => {
  scenario('control: same guest without migration stays alive', { suite: 'liveness-checker', arch, oneHost: "a checker's own fault or control run, on this machine" }, async (ctx) => {
    const vm = await ctx.vms.start(new VmBuilder('src', arch));
    await vm.waitReady();
    const steady = await checkLivenessSteady(vm, 3000);
    expect(steady.beats).toBeGreaterThan(100);
    return { guestDowntimeMs: steady.largestGapMs };
  });

  scenario('fault: destination reset after switchover is caught', { suite: 'liveness-checker', arch, oneHost: "a checker's own fault or control run, on this machine" }, async (ctx) => {
    const pair = await startPair(ctx.vms, arch);
    const m = await migrate(pair.src, pair.dst);
    ctx.record(migrationFigures(m));
    await pair.dst.qmp.execute('system_reset');
    const err = await checkLivenessAfterMigration(pair.src, pair.dst, { beats: 600 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LivenessError);
    expect(String((err as Error).message)).toMatch(/restarted|booted again|jumped|clock went back|not alive/);
    return { extra: { caught: (err as Error).message } };
  });

  scenario('fault: destination stopped after switchover is caught', { suite: 'liveness-checker', arch, oneHost: "a checker's own fault or control run, on this machine" }, async (ctx) => {
    const pair = await startPair(ctx.vms, arch);
    const m = await migrate(pair.src, pair.dst);
    ctx.record(migrationFigures(m));
    await pair.dst.qmp.execute('stop');
    const since = pair.dst.heartbeat!.beats.length;
    const err = await checkLivenessAfterMigration(pair.src, pair.dst, { beats: since + 200, timeoutMs: 8000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LivenessError);
    expect(String((err as Error).message)).toMatch(/not alive.*status: paused/);
    return { extra: { caught: (err as Error).message } };
  });

  // A guest kernel that dies on the destination takes its agent with it: the case says
  // guest-died and quotes the console, instead of timing out on an agent that never answers.
  caseScenario(
    {
      id: 'fault: the guest kernel crashes on the destination in postcopy (sysrq c): guest-died, the console quoted',
      arch,
      migration: { mode: 'postcopy' },
      hooks: { inPostcopy: async (run) => void (await (await run.dst.agent()).spawn('/bin/busybox', ['sh', '-c', 'echo c > /proc/sysrq-trigger'])) },
      expect: { kind: 'guest-dies', why: 'the guest kernel was made to crash (sysrq c) once it ran on the destination' },
    },
    { suite: 'liveness-checker', arch },
    ({ outcome, run }) => {
      expect(outcome.kind).toBe('guest-died');
      expect('error' in outcome && outcome.error).toMatch(/the guest kernel crashed on the destination: .*(sysrq|Kernel panic)/);
      expect(run.dst.kernelCrash()).toBeDefined();
      return { extra: { caught: 'error' in outcome ? outcome.error : undefined } };
    },
  );
});
