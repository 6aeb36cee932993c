import type { LivenessReport } from '../guest/liveness.js';
import type { RamCheckReport, RamWorkload, RamWorkloadOptions } from '../guest/ramcheck.js';
import type { MigrationFigures } from '../migration/verify.js';
import type { RecoveryFigures } from '../report/results.js';
import type { BridgeChain } from '../faults/bridge.js';
import type { TlsSpec } from '../migration/tls.js';
import type { MigrateOptions, MigrationResult, RunningMigration, Side } from '../migration/migrate.js';
import type { PostcopyOptions, RecoverOptions } from '../migration/postcopy.js';
import type { FaultRecord, Trigger } from '../migration/triggers.js';
import type { QemuBinary } from '../qemu/catalog.js';
import type { RunState } from '../qmp/types.js';
import type { Arch } from '../util/arch.js';
import type { VmBuilder } from '../vm/builder.js';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import type { CaseStorage, IoReport, StorageSpec } from './storage.js';

/** One side's setup: what may differ between a source and its destination. */
export interface SideSetup {
  /** A QEMU version label ("7.2", "10.0", "system"); default: the run's choice for this side. */
  qemu?: string;
  /** A binary already resolved (wins over `qemu`). */
  binary?: QemuBinary;
  /** Machine type, optionally with options ("pc-q35-7.2", "q35,smm=off"). */
  machine?: string;
  cpu?: string;
  memoryMiB?: number;
  /** Extra -device arguments; on the destination they replace the source's. */
  devices?: string[];
  /** Extra raw arguments (a -netdev or -blockdev the devices need); on the destination they replace the source's. */
  args?: string[];
  /** Anything else, on the builder: disks, NICs, a network namespace. Runs after the fields above. */
  configure?: (b: VmBuilder) => VmBuilder;
}

export type Mode = 'precopy' | 'postcopy' | 'recovery';

/** How to migrate: QEMU's settings plus what the harness does around them. */
export interface MigrationSpec extends Omit<MigrateOptions, 'expect' | 'onActive' | 'beforeSwitchover' | 'route' | 'keepDestinationOnError'> {
  /**
   * precopy: migrate and wait. postcopy: throttled postcopy switched on after `switchAfter`.
   * recovery: postcopy where each fault breaks the link and the harness recovers it.
   */
  mode?: Mode;
  /** Through socat bridges (a BridgeChain) so the link can be killed; default: on for recovery. */
  bridged?: boolean;
  /** Postcopy capabilities, throttle and when to switch (default: after the first pass). */
  postcopy?: PostcopyOptions & { switchAfter?: Trigger };
  /** Recovery: where the destination listens for the new channel (default: loopback, port 0, via a new bridge when bridged). */
  recover?: Omit<RecoverOptions, 'route'>;
  /** migrate-incoming exit-on-error false: `auto` where the destination has it (9.1+). */
  keepDestinationOnError?: boolean | 'auto';
  /** Over TLS: credentials made at run time (x509 or psk) on both sides, and the hostile variants. */
  tls?: TlsSpec;
}

/** Everything a hook or fault can touch while a case runs. */
export interface CaseRun {
  readonly scope: Scope;
  readonly case: MigrationCase;
  readonly src: StartedVm;
  readonly dst: StartedVm;
  readonly ram?: RamWorkload;
  /** The QEMU versions of the two sides, known even when the destination could not start. */
  readonly versions: { src: string; dst: string };
  /** The migration, once started. */
  m?: RunningMigration;
  /** The bridges, when the migration goes through them. */
  readonly bridges?: BridgeChain;
  /** The data disk and its fio, when the case has storage. */
  readonly storage?: CaseStorage;
  vm(side: Side): StartedVm;
}

/** A fault: what fires, and the state of the migration it fires at (never a sleep). */
export interface FaultSpec {
  name: string;
  at: Trigger;
  fire(run: CaseRun): Promise<unknown>;
  /** How long to wait for `at` (unscaled; default DEADLINES.trigger). */
  timeoutMs?: number;
  /** Recovery mode: runs while both sides are paused, before the recovery (e.g. wait for the guest to stall). */
  whilePaused?(run: CaseRun): Promise<unknown>;
}

/** qtest's hooks: start (before migrating), onActive, beforeSwitchover, beforeRetry, end. */
export interface CaseHooks {
  /** After the pair and workload are up, before migrating: start fio, suspend the guest, ... */
  start?(run: CaseRun): Promise<void>;
  /** Once the migration is active. */
  onActive?(run: CaseRun): Promise<void>;
  /** Postcopy: during precopy, before the switch. */
  beforePostcopy?(run: CaseRun): Promise<void>;
  /** Postcopy: once both sides are postcopy-active and the guest runs on the destination, before any fault. */
  inPostcopy?(run: CaseRun): Promise<void>;
  /** With pause-before-switchover: while the source waits in pre-switchover. */
  beforeSwitchover?(run: CaseRun): Promise<void>;
  /** After a failure the source survived, before the retry (heal a partition). */
  beforeRetry?(run: CaseRun): Promise<void>;
  /** After everything was checked: more assertions, with the report so far. */
  end?(run: CaseRun, report: CaseReport): Promise<void>;
}

/**
 * What must happen. The outcome observed is checked against it in one place (expect.ts).
 * - migrates: source postmigrate, destination in the source's run state, liveness and RAM checked.
 * - fails: the migration ends `status` (a fault, a cancel); the source runs on, intact.
 * - refused: a side refuses, in QEMU's words: its settings (migrate-set-capabilities) or the stream.
 * - dst-start-fails: the destination cannot even start (an unknown machine type).
 * - guest-dies: QEMU completes, but the guest is dead on the destination (a check QEMU does not make).
 * - guest-lost: a side died in postcopy; the harness must report it without hanging.
 * - skip: the host or a binary lacks something; the reason names it.
 */
export type Expectation =
  | { kind: 'migrates'; why?: string }
  | { kind: 'fails'; status: 'failed' | 'cancelled'; why?: string }
  | { kind: 'refused'; side: Side; stage: 'settings' | 'stream'; message: string; why: string; rule?: string }
  | { kind: 'dst-start-fails'; message: string; why: string }
  | { kind: 'guest-dies'; why: string }
  | { kind: 'guest-lost'; side: Side; why?: string }
  | { kind: 'skip'; reason: string };

/** What happened, whatever was expected. */
export type Outcome =
  | { kind: 'migrated' }
  | { kind: 'refused'; side: Side; stage: 'settings' | 'stream'; error: string }
  | { kind: 'failed'; status: 'failed' | 'cancelled'; error?: string }
  | { kind: 'dst-start-failed'; error: string }
  | { kind: 'guest-died'; error: string }
  | { kind: 'guest-lost'; side: Side; error: string };

/**
 * One migration scenario, declared: qtest's MigrateStart + MigrateCommon. The driver for its
 * mode owns the sequence: start the pair, the workload, migrate, fire the faults at their
 * triggers, verify, and after a failure check the source and retry.
 */
export interface MigrationCase {
  id: string;
  arch: Arch;
  source?: SideSetup;
  /** Only what differs on the destination, merged over the source's setup. */
  destination?: SideSetup;
  /** A data disk fio writes to across the migration, checked on the destination (case/storage.ts). */
  storage?: StorageSpec;
  /** The guest's RAM workload (checked after migrating); false: none. Default 32 MiB at 16 MiB/s. */
  workload?: RamWorkloadOptions | false;
  migration?: MigrationSpec;
  faults?: FaultSpec[];
  hooks?: CaseHooks;
  /** Default: migrates. */
  expect?: Expectation;
  /** A hosts file: the source on its src host, the destination on its dst host (default: the run's --hosts, else this machine). */
  hosts?: string;
  /**
   * After a failure or a stream refusal that the source survived: migrate it again to a
   * fresh destination set up like the source (or like `destination`). Default on for those.
   */
  retry?: boolean | { destination?: SideSetup; migration?: MigrationSpec };
}

/** One postcopy failure and its recovery. */
export interface Episode {
  fault: string;
  /** Where the source resumed to. */
  uri: string;
  faultAt: number;
  pausedAt: number;
  recoveredAt: number;
}

/** What a case returns: its outcome, its verdict, and its figures (recorded by the scenario, not here). */
export interface CaseReport {
  outcome: Outcome;
  verdict: string;
  run: CaseRun;
  /** Only what completed: a refused case has none. */
  migration?: MigrationResult;
  figures: MigrationFigures & { postcopyBlocktimeMs?: number };
  liveness?: LivenessReport;
  ram?: RamCheckReport;
  /** The data disk's check, when the case has storage. */
  io?: IoReport;
  episodes: Array<Episode & { figures: RecoveryFigures }>;
  /** Each fault as it fired, with the sample that fired it (also in faults.jsonl). */
  faults: FaultRecord[];
  /** The retry's own figures, never mixed into the case's. */
  retry?: MigrationFigures;
  destinationRunState?: RunState;
}
