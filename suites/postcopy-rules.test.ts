import { describe, expect } from 'vitest';
import { caseScenario, POSTCOPY_WORKLOAD, QmpCommandError, testArches, when, type MigratingRun } from '../harness/index.js';

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
  const meta = { suite: SUITE };
  const said: string[] = [];
  const beforePostcopy = async ({ m, src, dst }: MigratingRun) => {
    await when.status('active').wait(m);
    said.push(await refusal(src.qmp.executeOob('migrate-pause')), await refusal(dst.qmp.executeOob('migrate-pause')));
    expect(m.sampler.last?.status).toBe('active');
  };
  caseScenario({ id: 'migrate-pause outside postcopy is refused on both sides; the migration goes on', arch, migration: { mode: 'postcopy' }, hooks: { beforePostcopy } }, meta, () => {
    for (const s of said) expect(s).toContain(PAUSE_ONLY_IN_POSTCOPY);
    return { extra: { refusals: said } };
  });

  const refused: Record<string, string> = {};
  const inPostcopy = async ({ src, dst }: MigratingRun) => {
    refused.recover = await refusal(dst.qmp.executeOob('migrate-recover', { uri: 'tcp:127.0.0.1:0' }));
    refused.resume = await refusal(src.qmp.execute('migrate', { uri: 'tcp:127.0.0.1:1', resume: true }));
    expect(src.lastMigrationStatus).toBe('postcopy-active');
  };
  caseScenario({ id: 'migrate-recover and resume outside postcopy-paused are refused; the migration goes on', arch, migration: { mode: 'postcopy' }, hooks: { inPostcopy } }, meta, () => {
    expect(refused.recover).toContain(RECOVER_ONLY_WHEN_PAUSED);
    expect(refused.resume).toMatch(/paused/i);
    return { extra: refused };
  });

  // The same source retried in postcopy, postcopy-ram on both sides this time: the mismatch was the cause.
  caseScenario({
    id: 'postcopy-ram on the source only: the destination refuses the advise, the source survives', arch, workload: POSTCOPY_WORKLOAD,
    migration: { capabilities: { 'postcopy-ram': true }, destination: { capabilities: { 'postcopy-ram': false } } },
    expect: { kind: 'refused', side: 'destination', stage: 'stream', message: 'RAM postcopy is disabled but have 16 byte advise', why: 'postcopy-ram must be on at both ends' },
    retry: { migration: { mode: 'postcopy' } },
  }, meta, ({ outcome, retry }) => {
    expect(outcome.kind === 'refused' && outcome.error).toContain('load of migration failed: Invalid argument');
    expect(retry).toBeDefined();
    return { extra: { retry } };
  });
});
