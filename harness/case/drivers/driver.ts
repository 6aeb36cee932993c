import type { RamWorkloadOptions } from '../../guest/ramcheck.js';
import type { MigrationSettings } from '../../migration/apply.js';
import type { FaultRecord } from '../../migration/triggers.js';
import type { MigrateOptions, RunningMigration } from '../../migration/migrate.js';
import type { VmBuilder } from '../../vm/builder.js';
import type { StartedVm } from '../../vm/started.js';
import type { CaseReport, FaultSpec, MigratingRun, MigrationSpec, PairRun } from '../model.js';

/**
 * What one migration mode does at each step of a case; the case's sequence (start the pair,
 * migrate, fire faults, finish, verify, check the outcome) is the same for every mode. A new
 * mode is a new file implementing this, named in drivers/index.ts.
 */
export interface ModeDriver {
  /** The RAM workload a case of this mode gets unless it names one. */
  readonly workload: RamWorkloadOptions;
  /** Goes through socat bridges unless the case says otherwise (so a fault can break the link). */
  readonly bridged: boolean;
  /** QEMU settings the mode needs, merged under the case's own (neither side's dropped). */
  settings(spec: MigrationSpec): MigrationSettings | undefined;
  /** After `migrate` was accepted, before any fault: the switch to postcopy, with its hooks. */
  started(run: MigratingRun): Promise<void>;
  /**
   * After a fault fired: a recovery, say. `next` is the fault that must hit this one's
   * recovery handshake, if the case has one (at: 'recovery-handshake').
   */
  faulted(run: MigratingRun, fault: FaultSpec, record: FaultRecord, report: CaseReport, next?: FaultSpec): Promise<void>;
  /** Before waiting for the end: lift a throttle. */
  finishing(run: MigratingRun): Promise<void>;
  /** After a verified completion: the mode's own figures. */
  completed(run: MigratingRun, report: CaseReport): Promise<void>;
  /**
   * A mode whose destination cannot start before the migration does (cpr-transfer: the new
   * QEMU reads its CPR channel before it opens a monitor) starts it here, from the builder the
   * pair start prepared, and returns it with the migration under way. Without it, both sides
   * start first and `startMigration` migrates.
   */
  begin?(run: PairRun, destination: VmBuilder, opts: MigrateOptions): Promise<{ dst: StartedVm; m: RunningMigration }>;
  /** What the mode needs on both sides' command lines (a shared RAM backend, a machine option). */
  configure?(b: VmBuilder): VmBuilder;
  /** The first QEMU release with the mode: older binaries skip, saying so. */
  since?: { version: string; why: string };
  /** Why the mode needs both sides on one host, when it does. */
  oneHost?: string;
}

/** The steps a mode leaves as they are. */
export const NOTHING_MORE = {
  async started() {},
  async faulted() {},
  async finishing() {},
  async completed() {},
} satisfies Partial<ModeDriver>;
