import { describe } from 'vitest';
import { caseRow, expectedLabel, expandGrid, runQemu, gridVersions, loadGrid, runAccel, runCase, runConfig, scenario, testArches, withStaticCheck, type MigtestError } from '../harness/index.js';

// The compatibility grid (MIGTEST_COMPAT: a preset or a file; `migtest compat` sets it;
// default smoke). Each cell is a case whose expectation comes from the rules; its row says
// what was expected and what happened, for the report. No retry: the grid is about each cell.
const grid = loadGrid(runConfig().compatGrid);

for (const arch of testArches().filter((a) => grid.arches.includes(a))) {
  const accel = (await runAccel((await runQemu(arch)).src)).accel;
  const { versions, missing } = await gridVersions(grid, arch);
  describe(`compat ${grid.name} ${arch}`, () => {
    for (const m of missing) scenario(`QEMU ${m.label} for ${arch}`, { suite: 'compat', arch }, async (ctx) => ctx.skip(m.why));
    for (const c of expandGrid(grid, arch, versions, accel))
      scenario(c.id, { suite: 'compat', arch, twoHosts: true }, async (ctx) => {
        ctx.record({ extra: { expected: expectedLabel(c.expect ?? { kind: 'migrates' }) } });
        // The two sides' -dump-vmstate compared before migrating; recorded whatever happens next.
        const check = withStaticCheck({ ...c, retry: false });
        let outcome: string | undefined;
        try {
          const row = caseRow(await runCase(ctx, check.case));
          outcome = row.extra?.outcome as string | undefined;
          return row;
        } catch (e) {
          outcome = ((e as MigtestError).context?.row as { extra?: { outcome?: string } } | undefined)?.extra?.outcome;
          throw e;
        } finally {
          // A cell skipped or broken before it had an outcome has nothing to compare against.
          const v = outcome && (await check.verdict(outcome).catch((e: Error) => e));
          if (v) ctx.record({ extra: { static: v instanceof Error ? { error: v.message } : v && { ...v, issues: v.issues.slice(0, 5), issueCount: v.issues.length } } });
        }
      });
  });
}
