import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { when } from '../harness/faults/trigger.js';
import { BridgeChain } from '../harness/faults/bridge.js';
import { assertSourceIntact } from '../harness/migration/checks.js';
import { postcopySettings, switchToPostcopy } from '../harness/migration/postcopy.js';
import { VmBuilder } from '../harness/vm/builder.js';
import { startMigration } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { QmpCommandError } from '../harness/qmp/errors.js';
import { testArches } from '../harness/testing/arches.js';
import { completePostcopy, POSTCOPY_WORKLOAD, startPostcopy } from '../harness/testing/postcopy.js';
import { scenario } from '../harness/testing/scenario.js';
import { pollUntil, scaled } from '../harness/util/time.js';

const SUITE = 'postcopy-rules';
// 7.2 ends this sentence "during postcopy-active state"; 10.0 adds "or postcopy-recover state".
const PAUSE_ONLY_IN_POSTCOPY = 'migrate-pause is currently only supported during postcopy-active';
const RECOVER_ONLY_WHEN_PAUSED = 'Migrate recover can only be run when postcopy is paused';

/** A QMP command QEMU must refuse: returns its error's text. */
async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'QEMU accepted a command it should have refused').toBeInstanceOf(QmpCommandError);
  return (e as QmpCommandError).desc;
}

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  scenario('migrate-pause outside postcopy is refused on both sides; the migration goes on', { suite: SUITE, arch }, async (ctx) => {
    const said: string[] = [];
    const run = await startPostcopy(ctx, arch, {
      bridged: false,
      beforePostcopy: async (m) => {
        await when.status('active').wait(m);
        said.push(await refusal(m.src.qmp.executeOob('migrate-pause')), await refusal(m.dst.qmp.executeOob('migrate-pause')));
        expect(m.sampler.last?.status).toBe('active');
      },
    });
    for (const s of said) expect(s).toContain(PAUSE_ONLY_IN_POSTCOPY);
    ctx.result.extra = { refusals: said };
    await completePostcopy(ctx, run);
  });

  scenario('migrate-recover and resume outside postcopy-paused are refused; the migration goes on', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch, { bridged: false });
    const recover = await refusal(run.dst.qmp.executeOob('migrate-recover', { uri: 'tcp:127.0.0.1:0' }));
    expect(recover).toContain(RECOVER_ONLY_WHEN_PAUSED);
    const resume = await refusal(run.src.qmp.execute('migrate', { uri: 'tcp:127.0.0.1:1', resume: true }));
    expect(resume).toMatch(/paused/i);
    ctx.result.extra = { recover, resume };
    expect(run.src.lastMigrationStatus).toBe('postcopy-active');
    await completePostcopy(ctx, run);
  });

  scenario('postcopy-ram on the source only: the destination refuses the advise, the source survives', { suite: SUITE, arch }, async (ctx) => {
    const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, POSTCOPY_WORKLOAD);
    const m = await startMigration(src, dst, {
      capabilities: { 'postcopy-ram': true },
      destination: { capabilities: { 'postcopy-ram': false } },
      expect: 'failed',
    });
    await m.finish();
    const stderr = dst.artifacts.file('dst.stderr.log');
    const text = await pollUntil('the destination to say why it refused', scaled(30_000), () => {
      const t = readFileSync(stderr, 'utf8');
      return { done: t.includes('advise') && t.includes('load of migration failed'), value: t, state: t.slice(-300) };
    });
    expect(text).toContain('RAM postcopy is disabled but have 16 byte advise');
    expect(text).toContain('load of migration failed: Invalid argument');
    ctx.result.extra = { destinationSaid: text.trim().split('\n').slice(-2) };
    await assertSourceIntact(src, ram);
    // The same source, postcopy-ram on both sides this time: the mismatch was the cause.
    const dst2 = await ctx.vms.start(new VmBuilder('dst2', arch).withIncoming());
    const m2 = await startMigration(src, dst2, postcopySettings());
    await switchToPostcopy(m2);
    await completePostcopy(ctx, { src, dst: dst2, ram, m: m2, bridges: new BridgeChain() });
  });
});
