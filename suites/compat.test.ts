import { describe } from 'vitest';
import { expandGrid, loadGrid, type Version } from '../harness/compat/grid.js';
import { observePair } from '../harness/compat/run.js';
import { findBinary } from '../harness/qemu/catalog.js';
import { runAccel } from '../harness/host/accel.js';
import type { PairExpectation } from '../harness/compat/model.js';
import { probeBinary } from '../harness/qemu/probe.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';
import { CheckFailedError } from '../harness/util/errors.js';

// The compatibility grid (MIGTEST_COMPAT: a preset or a file; `migtest compat` sets it;
// default smoke). Each cell records what happened; a cell whose rule says it must
// migrate, or its destination must fail to start, fails when QEMU does otherwise.
const OUTCOME_OF: Record<PairExpectation['kind'], string> = {
  migrates: 'migrated',
  refused: 'refused',
  'dst-start-fails': 'dst-start-failed',
  'guest-dies': 'failed',
  skip: 'skip',
};
const grid = loadGrid(process.env.MIGTEST_COMPAT ?? 'smoke');

for (const arch of testArches().filter((a) => grid.arches.includes(a))) {
  const accel = (await runAccel(await findBinary(arch))).accel;
  const versions: Version[] = [];
  for (const label of grid.versions) {
    const bin = await findBinary(arch, label).catch(() => undefined);
    if (bin) versions.push({ label, version: bin.version, probe: await probeBinary(bin) });
  }
  describe(`compat ${grid.name} ${arch}`, () => {
    const missing = grid.versions.filter((l) => !versions.some((v) => v.label === l));
    for (const l of missing)
      scenario(`QEMU ${l} for ${arch}`, { suite: 'compat', arch }, async (ctx) => ctx.skip(`QEMU ${l} for ${arch} is not installed (run: migtest qemu fetch ${l})`));
    for (const c of expandGrid(grid, arch, versions, accel))
      scenario(c.id, { suite: 'compat', arch }, async (ctx) => {
        const expected = OUTCOME_OF[c.expect.kind];
        ctx.result.extra = { expected };
        if (c.expect.kind === 'skip') return ctx.skip(c.expect.reason);
        const o = await observePair(c, ctx);
        Object.assign(ctx.result, { qemuDowntimeMs: o.downtimeMs, guestDowntimeMs: o.guestDowntimeMs });
        ctx.result.extra = { expected, outcome: o.outcome, side: o.side, error: o.error };
        if (o.outcome !== expected)
          throw new CheckFailedError(`${c.id}: the rule says ${expected} (${'why' in c.expect ? c.expect.why : ''}), QEMU did ${o.outcome}${o.error ? `: ${o.error}` : ''}`);
      });
  });
}
