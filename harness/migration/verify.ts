import { checkLivenessAfterMigration, type LivenessReport } from '../guest/liveness.js';
import type { ScenarioResult } from '../report/results.js';
import type { RunState } from '../qmp/types.js';
import { CheckFailedError } from '../util/errors.js';
import { deadline } from '../util/deadlines.js';
import { migrate, type MigrateOptions, type MigrationResult, type Side } from './migrate.js';
import type { StartedVm } from '../vm/started.js';

/** A source and its destination. */
export interface Pair {
  src: StartedVm;
  dst: StartedVm;
}

/** The figures a migration gives a results row; the caller decides where they go. */
export type MigrationFigures = Pick<
  ScenarioResult,
  | 'qemuTotalTimeMs'
  | 'qemuDowntimeMs'
  | 'throughputMbps'
  | 'transferredBytes'
  | 'dirtySyncCount'
  | 'normalPages'
  | 'zeroPages'
  | 'postcopyRequests'
  | 'guestDowntimeMs'
  | 'guestDowntimeResolutionMs'
>;

export interface VerifiedMigration {
  migration: MigrationResult;
  /** Absent when the guest was not running (nothing beats on a stopped or suspended guest). */
  liveness?: LivenessReport;
  figures: MigrationFigures;
}

/** A side's run state after a completed migration is not the one it must be in. */
export class WrongRunStateError extends CheckFailedError {
  constructor(
    readonly side: Side,
    readonly expected: RunState,
    readonly got: RunState,
    why: string,
    figures: MigrationFigures,
  ) {
    super(`${side} status is '${got}' after migration, expected '${expected}'${why}`, { figures, side, expected, got });
  }
}

/** What a row of results.json takes from a completed migration. */
export function migrationFigures(m: MigrationResult, live?: LivenessReport): MigrationFigures {
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
    guestDowntimeResolutionMs: live?.resolutionMs,
  };
}

/**
 * The run state the destination must be in: the source's own when it was migrated (QEMU's
 * global state carries it: a suspended guest stays suspended, one stopped on an I/O error
 * stays io-error, as seen on 10.0.2), paused for any other stopped state.
 */
export function expectedDestinationRunState(source: RunState): RunState {
  return source === 'running' || source === 'suspended' || source === 'io-error' ? source : 'paused';
}

/**
 * Migrates and asserts what matters: source postmigrate, destination in the source's run
 * state, and (when it runs) the guest's heartbeat continuing with no reset. Returns the figures.
 */
export async function migrateAndVerify(pair: Pair, opts: MigrateOptions = {}): Promise<VerifiedMigration> {
  return verifyMigration(pair, await migrate(pair.src, pair.dst, opts));
}

/** The checks of migrateAndVerify for a migration that was driven by hand (RunningMigration.finish()). */
export async function verifyMigration({ src, dst }: Pair, migration: MigrationResult, opts: { liveness?: { timeoutMs: number; beats: number } } = {}): Promise<VerifiedMigration> {
  src.artifacts.writeJson(`stats.${dst.name}.json`, { source: migration.series, final: migration.info });
  const want = expectedDestinationRunState(migration.sourceRunState);
  // A source that exec'd into its destination (cpr-exec) has no run state of its own any more.
  if (!src.handedOverTo) {
    const s = await src.statusAfterMigration({ timeoutMs: deadline(undefined, 'settle') });
    if (s.status !== 'postmigrate') throw new WrongRunStateError('source', 'postmigrate', s.status, '', migrationFigures(migration));
  }
  const d = await dst.status();
  if (d.status !== want) throw new WrongRunStateError('destination', want, d.status, ` (the source was '${migration.sourceRunState}')`, migrationFigures(migration));
  if (want !== 'running') return { migration, figures: migrationFigures(migration) };
  // The checks after this one talk to the destination's agent: its connection (a sync of
  // about 100 ms under TCG) is made while the heartbeats are counted, not after. A connect
  // that fails is not kept: whoever asks next connects again and hears why.
  if (dst.spec.agent) void dst.agent().catch(() => undefined);
  const liveness = await checkLivenessAfterMigration(src, dst, { since: migration.startedAt, ...opts.liveness });
  dst.artifacts.writeJson(`liveness.${dst.name}.json`, liveness);
  return { migration, liveness, figures: migrationFigures(migration, liveness) };
}
