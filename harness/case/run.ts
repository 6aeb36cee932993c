import type { Scope } from '../vm/pool.js';
import { ConvergedInPrecopyError } from '../migration/postcopy.js';
import { DRIVERS } from './drivers/index.js';
import { newReport, settle, withRow } from './finish.js';
import { Migrating, prepare } from './lifecycle.js';
import { MigtestError } from '../util/errors.js';
import type { CaseReport, MigratingRun, MigrationCase, PreparedRun } from './model.js';
import { outcomeOf } from './outcome.js';
import { startSides } from './pair.js';

/** The RAM workload precopy cases get: 32 MiB dirtied at 16 MiB/s. */
export const DEFAULT_WORKLOAD = DRIVERS.precopy.workload;
/** Postcopy cases: 64 MiB dirtied as fast as the guest can, so every page it touches may be missing. */
export const POSTCOPY_WORKLOAD = DRIVERS.postcopy.workload;

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/**
 * The pair of a case, up and ready: both sides started (each on its host), the workload, the
 * storage's fio and the start hook running. For scenarios that go on step by step:
 * `await (await startPair(ctx, c)).migrate()` gives the migrating run, `.finish()` the report.
 * A destination that cannot start is an error here (runCase makes it an outcome).
 */
export async function startPair(scope: Scope, c: MigrationCase): Promise<PreparedRun> {
  const sides = await startSides(scope, c);
  if (!sides.dst && !sides.deferredDestination) throw sides.dstError!;
  return prepare(scope, c, sides);
}

/** Everything up to a migration under way (in postcopy modes, switched to postcopy). */
export async function beginCase(scope: Scope, c: MigrationCase): Promise<MigratingRun> {
  return (await startPair(scope, c)).migrate();
}

/**
 * The whole case: start, migrate (its mode's driver), faults at their triggers, verify,
 * the outcome decided from what both sides reported and checked against the expectation
 * (its own, or computed from QEMU's rules), the source's health and a retry after a
 * failure. Returns the report; the scenario records it.
 */
export async function runCase(scope: Scope, c: MigrationCase): Promise<CaseReport> {
  const sides = await startSides(scope, c);
  const run = await prepare(scope, c, sides);
  if (!sides.dst && !sides.deferredDestination) return settle(run, { ...newReport(run), outcome: { kind: 'dst-start-failed', error: firstLine(sides.dstError) } });
  let migrating: MigratingRun;
  try {
    migrating = await run.migrate();
  } catch (err) {
    if (err instanceof ConvergedInPrecopyError) throw err;
    // Settings a side refused, a switch to postcopy that failed: an outcome, decided from both sides.
    const report = newReport(run);
    const e = run.expectation;
    try {
      const begun = err instanceof MigtestError && err.context.run instanceof Migrating ? err.context.run : run;
      report.outcome = await outcomeOf(begun, err, { faults: 0, expectsFailure: e.kind === 'fails' });
    } catch (other) {
      throw withRow(other, report);
    }
    return settle(run, report as CaseReport);
  }
  return migrating.finish();
}
