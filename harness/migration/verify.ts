import { checkLivenessAfterMigration, type LivenessReport } from '../guest/liveness.js';
import type { ScenarioResult } from '../report/results.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { CheckFailedError } from '../util/errors.js';
import { migrate, type MigrateOptions, type MigrationResult } from './migrate.js';
import type { Pair } from './pair.js';

export interface VerifiedMigration {
  migration: MigrationResult;
  liveness: LivenessReport;
}

/** What a row of results.json takes from a completed migration. */
export function migrationFigures(m: MigrationResult, live?: LivenessReport): Partial<ScenarioResult> {
  return {
    qemuTotalTimeMs: m.info['total-time'],
    qemuDowntimeMs: m.info.downtime,
    throughputMbps: m.info.ram?.mbps,
    transferredBytes: m.info.ram?.transferred,
    dirtySyncCount: m.info.ram?.['dirty-sync-count'],
    normalPages: m.info.ram?.normal,
    zeroPages: m.info.ram?.duplicate,
    postcopyRequests: m.info.ram?.['postcopy-requests'] || undefined,
    guestDowntimeMs: live?.guestObservedDowntimeMs,
  };
}

/**
 * Migrates and asserts what matters: source postmigrate, destination running, and the
 * guest's heartbeat continuing on the destination with no reset. Fills `result`.
 */
export async function migrateAndVerify(
  pair: Pair,
  ctx: { artifacts: ArtifactDir; result: Partial<ScenarioResult> },
  opts: MigrateOptions = {},
): Promise<VerifiedMigration> {
  return verifyMigration(pair, ctx, await migrate(pair.src, pair.dst, opts));
}

/** The checks of migrateAndVerify for a migration that was driven by hand (RunningMigration.finish()). */
export async function verifyMigration(
  { src, dst }: Pair,
  ctx: { artifacts: ArtifactDir; result: Partial<ScenarioResult> },
  migration: MigrationResult,
): Promise<VerifiedMigration> {
  ctx.artifacts.writeJson('stats.json', { source: migration.series, final: migration.info });
  Object.assign(ctx.result, migrationFigures(migration));
  const [s, d] = await Promise.all([src.status(), dst.status()]);
  if (s.status !== 'postmigrate')
    throw new CheckFailedError(`source status is '${s.status}' after migration, expected 'postmigrate'`);
  if (d.status !== 'running') throw new CheckFailedError(`destination status is '${d.status}' after migration, expected 'running'`);
  const liveness = await checkLivenessAfterMigration(src, dst);
  Object.assign(ctx.result, migrationFigures(migration, liveness));
  ctx.artifacts.writeJson('liveness.json', liveness);
  return { migration, liveness };
}
