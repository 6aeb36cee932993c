import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import {
  buildImage, caseRow, caseScenario, DEADLINES, findImage, GroupProcess, reproPlan, reproScript, runCase, scenario, testArches, type BootImage, type ScenarioContext,
} from '../harness/index.js';


// `migtest repro`: the script written from a passing run's artifacts replays it without the
// harness (both QEMU command lines, the run's QMP commands on the same states) and migrates.
describe.each(testArches())('repro %s', (arch) => {
  const oneHost = 'the replay (repro.py) starts its QEMUs on this machine';
  const meta = { suite: 'repro', arch, oneHost };
  const runs: Record<string, string> = {};

  caseScenario({ id: 'a precopy run to replay', arch, oneHost }, meta, (_r, ctx) => void (runs.precopy = ctx.artifacts.path));
  caseScenario({ id: 'a postcopy run to replay', arch, oneHost, migration: { mode: 'postcopy' } }, meta, (_r, ctx) => void (runs.postcopy = ctx.artifacts.path));
  caseScenario({ id: 'a UEFI run to replay', arch, oneHost, workload: false, source: { firmware: 'uefi' } }, meta, (_r, ctx) => void (runs.uefi = ctx.artifacts.path));

  // A disk image of the user's own (--image FILE), made as a user copies a prepared guest, run
  // without the heartbeat (--liveness agent): the run's VMs boot an overlay of it, which the
  // script makes again, and the script knows the guest up and alive from its agent alone. Outside any scenario's
  // artifacts, which drop a passing scenario's disks. x86_64 alone: the overlay is the same on
  // aarch64, whose user image the user-image suite runs.
  if (arch === 'x86_64') {
    const own = mkdtempSync(join(tmpdir(), 'migtest-repro-image-'));
    afterAll(() => rmSync(own, { recursive: true, force: true }));
    scenario("a run of a disk image of the user's own to replay", meta, async (ctx) => {
      const system = findImage(arch, 'system') ?? (await buildImage(arch, { name: 'system' }));
      const mine = join(own, 'my-guest.qcow2');
      await execa('qemu-img', ['convert', '-O', 'qcow2', system.rootDisk, mine]);
      const image: BootImage = { kernel: '', initrd: '', rootDisk: mine, rootFormat: 'qcow2', boot: 'firmware', user: true };
      const report = await runCase(ctx, { id: "a run of a disk image of the user's own to replay", arch, oneHost, workload: false, source: { liveness: 'agent', configure: (b) => b.withImage(image) } });
      runs.user = ctx.artifacts.path;
      return caseRow(report);
    });
  }

  const replay = async (ctx: ScenarioContext, kind: string) => {
    // Not a skip: nothing the host lacks, the run to replay failed (and says why above).
    if (!runs[kind]) throw new Error(`the ${kind} run before it did not pass: nothing to replay`);
    const plan = reproPlan(runs[kind]!);
    const script = ctx.artifacts.file('repro.py');
    writeFileSync(script, reproScript(plan));
    const log = ctx.artifacts.file('repro.log');
    // The script's QEMUs stay in its group, so this group's kill (and the reaper) covers them.
    const p = GroupProcess.spawn('python3', [script, '--timeout', '300'], { name: 'repro', stdoutFile: log, stderrFile: log, env: { MIGTEST_REPRO_SAME_GROUP: '1' } });
    ctx.track({ stop: () => p.stop({ termMs: DEADLINES.killed }) });
    const ended = await p.waitExit({ timeoutMs: DEADLINES.replay }).then(() => true, () => false);
    const out = readFileSync(log, 'utf8');
    expect(ended, `the script is still running after ${DEADLINES.replay / 1000} s:\n${out.slice(-2000)}`).toBe(true);
    expect(out, out.slice(-3000)).toMatch(/REPRO OK/);
    expect(p.exit?.code).toBe(0);
    const steps = plan.steps.map((s) => String(s.cmd.execute ?? s.cmd['exec-oob']));
    return { extra: { steps, alive: /guest alive on the destination[^\n]*/.exec(out)?.[0] } };
  };

  scenario('the script written from the precopy run migrates without migtest, the guest alive on the destination', meta, async (ctx) => {
    const r = await replay(ctx, 'precopy');
    expect(r?.extra.steps).toContain('migrate');
    return r;
  });
  scenario('the script written from the postcopy run switches to postcopy and migrates without migtest', meta, async (ctx) => {
    const r = await replay(ctx, 'postcopy');
    expect(r?.extra.steps).toContain('migrate-start-postcopy');
    return r;
  });
  // Each side's variable store was a copy the harness made: the script makes its own from the template.
  scenario("the script written from the UEFI run makes each side's variable store from the firmware's template and migrates", meta, async (ctx) => {
    const r = await replay(ctx, 'uefi');
    expect(readFileSync(ctx.artifacts.file('repro.log'), 'utf8').match(/made \S+\/(src|dst)\/vars\.fd \(copy of \S+\)/g)).toHaveLength(2);
    return r;
  });
  if (arch === 'x86_64')
    scenario("the script written from the user's image run makes the overlay of that image again, migrates, and finds the guest alive from its agent", meta, async (ctx) => {
      const r = await replay(ctx, 'user');
      const out = readFileSync(ctx.artifacts.file('repro.log'), 'utf8');
      expect(out).toMatch(/made \S+\/root-overlay-1\.qcow2 \(overlay of \S+my-guest\.qcow2/);
      expect(out).toMatch(/src: guest up \(its agent answers\)/);
      expect(r.extra.alive).toMatch(/^guest alive on the destination \(from its agent\): boot id (\S+) \(the source's: \1\)/);
      return r;
    });
});
