import type { LivenessReport } from '../guest/liveness.js';
import type { RamCheckReport, RamWorkload, RamWorkloadOptions } from '../guest/ramcheck.js';
import type { MigrationFigures } from '../migration/verify.js';
import type { RecoveryFigures } from '../report/results.js';
import type { BridgeChain } from '../faults/bridge.js';
import type { TlsSpec } from '../migration/tls.js';
import type { MigrateOptions, MigrationResult, RunningMigration, Side } from '../migration/migrate.js';
import type { PostcopyOptions } from '../migration/postcopy.js';
import type { FaultRecord, Trigger } from '../migration/triggers.js';
import type { QemuBinary } from '../qemu/catalog.js';
import type { RunState } from '../qmp/types.js';
import type { Arch } from '../util/arch.js';
import type { Wait } from '../util/deadlines.js';
import type { VmBuilder } from '../vm/builder.js';
import type { MemoryBackend } from '../vm/spec.js';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import type { CaseStorage, IoReport, StorageSpec } from './storage.js';
import type { Mode } from './drivers/index.js';
import type { KnownFlake } from './known-flakes.js';
import type { FirmwareKind, LivenessSource } from '../util/arch.js';

export type { Mode };

/** One side's setup: what may differ between a source and its destination. */
export interface SideSetup {
  /** A QEMU version label ("7.2", "10.0", "system"), a binary's path or a build directory; default: the run's choice for this side. */
  qemu?: string;
  /** A binary already resolved (wins over `qemu`). */
  binary?: QemuBinary;
  /** Machine type, optionally with options ("pc-q35-7.2", "q35,smm=off"). */
  machine?: string;
  cpu?: string;
  memoryMiB?: number;
  /** Where guest RAM lives: anonymous (default), a file (memory-backend-file) or memfd, shared or not. */
  memoryBackend?: MemoryBackend;
  /** What boots the guest: bios, uefi or uefi-secure (default: the run's, --firmware). */
  firmware?: FirmwareKind;
  /** The UEFI kind booted from another build's pflash files (another size, another version). */
  firmwareFiles?: { code: string; varsTemplate: string };
  /** Where the guest's signs of life come from: its heartbeat, or the agent polled (default: the run's, --liveness). */
  liveness?: LivenessSource;
  /** Extra -device arguments; on the destination they replace the source's. */
  devices?: string[];
  /** Extra raw arguments (a -netdev or -blockdev the devices need); on the destination they replace the source's. */
  args?: string[];
  /** Anything else, on the builder: disks, NICs, a network namespace. Runs after the fields above. */
  configure?: (b: VmBuilder) => VmBuilder;
}

/** How a postcopy recovery is made, per episode. */
export interface RecoverySpec {
  /**
   * How the new channel reaches the destination. `new-bridge` (default when bridged): a fresh
   * socat bridge to the new port; `same-port`: the killed bridge restarted on its old port,
   * so the source resumes to its first URI; `direct`: straight to the destination.
   */
  route?: 'new-bridge' | 'same-port' | 'direct';
  /** The port the destination listens on for the new channel: 0 (the kernel's pick, default), `free` (one the harness picked), or a number. */
  port?: number | 'free';
  /** Address the destination listens on (default: its migration address, else loopback). */
  listenHost?: string;
  /**
   * How postcopy comes to be paused after a fault. `by-itself` (default): the broken link
   * pauses both sides. `migrate-pause`: nothing notices a silent hang, so once no byte moved
   * for 2 s the harness pauses both sides out-of-band.
   */
  pause?: 'by-itself' | 'migrate-pause';
  /** The first resume goes to a closed port: it must fail at once in QEMU's words; then the source resumes to the listening one. */
  failFirst?: boolean;
}

/** How to migrate: QEMU's settings plus what the harness does around them. */
export interface MigrationSpec extends Omit<MigrateOptions, 'expect' | 'onActive' | 'beforeSwitchover' | 'route' | 'keepDestinationOnError'> {
  /**
   * precopy: migrate and wait. postcopy: throttled postcopy switched on after `switchAfter`.
   * recovery: postcopy where each fault breaks the link and the harness recovers it.
   */
  mode?: Mode;
  /** Through socat bridges (a BridgeChain) so the link can be killed; default: on for recovery. */
  bridged?: boolean;
  /**
   * Where the source's connection goes instead of the destination: `hangs` (a loopback port
   * whose SYNs are dropped: the migration stays in setup), `refused` (a closed port: the
   * connect fails at once). One host only.
   */
  connect?: 'hangs' | 'refused';
  /** Postcopy capabilities, throttle and when to switch (default: after the first pass). */
  postcopy?: PostcopyOptions & { switchAfter?: Trigger };
  /** Recovery: route, listening port, how the pause comes. */
  recover?: RecoverySpec;
  /** migrate-incoming exit-on-error false: `auto` where the destination has it (9.1+). */
  keepDestinationOnError?: boolean | 'auto';
  /** Over TLS: credentials made at run time (x509 or psk) or brought by the user, and the hostile variants. */
  tls?: TlsSpec;
}

/** What every state of a case's run has: the pair, its workload, bridges and storage. */
export interface PairRun {
  readonly scope: Scope;
  readonly case: MigrationCase;
  readonly src: StartedVm;
  /** The destination; until it could start (a start failure is an outcome), the source stands in. */
  readonly dst: StartedVm;
  readonly ram?: RamWorkload;
  /** The QEMU versions of the two sides, known even when the destination could not start. */
  readonly versions: { src: string; dst: string };
  /** The bridges, when the migration goes through them. */
  readonly bridges?: BridgeChain;
  /** The data disk and its fio, when the case has storage. */
  readonly storage?: CaseStorage;
  vm(side: Side): StartedVm;
}

/** A pair up and its workload running, not yet migrating. */
export interface PreparedRun extends PairRun {
  /** Starts the migration (in postcopy modes, switches to postcopy): the next state. */
  migrate(): Promise<MigratingRun>;
}

/** A migration under way: `m` always there. */
export interface MigratingRun extends PairRun {
  readonly m: RunningMigration;
  /** Faults, completion, verification, the outcome checked against the expectation: the end state. */
  finish(): Promise<CaseReport>;
  /** Both sides in postcopy-paused (one already paused counts), at or after host time `since`. */
  waitBothPaused(opts?: Wait): Promise<number>;
}

/** A fault: what fires, and the state of the migration it fires at (never a sleep). */
export interface FaultSpec {
  name: string;
  /** When it fires; `recovery-handshake`: during the previous fault's recovery, with both sides in postcopy-recover. */
  at: Trigger | 'recovery-handshake';
  fire(run: MigratingRun): Promise<unknown>;
  /** How long to wait for `at` (unscaled; default DEADLINES.trigger). */
  timeoutMs?: number;
  /** Before the pair starts: what the fault needs in place (a network namespace each side runs in). */
  setup?(ctx: FaultSetupContext): Promise<CasePatch | void>;
  /** Recovery mode: runs while both sides are paused, before the recovery (wait for the guest to stall). */
  whilePaused?(run: MigratingRun): Promise<unknown>;
  /** Undoes the fault (a partition healed) before a recovery or a retry. */
  heal?(run: PairRun): Promise<unknown>;
  /** A recovery-handshake fault: given the destination's new URI before the source resumes (drop its replies). */
  intercept?(run: MigratingRun, dstUri: string): Promise<unknown>;
  /** Why it needs one host, when it does: across two hosts the case then skips, saying so. */
  oneHost?: string;
}

/** What a fault's setup gets. */
export interface FaultSetupContext {
  scope: Scope;
  case: MigrationCase;
  /** Whether the sides are on two hosts. */
  twoHosts: boolean;
}

/** What a fault's setup changes in the case: each side's placement, where the destination listens. */
export interface CasePatch {
  source?: (b: VmBuilder) => VmBuilder;
  destination?: (b: VmBuilder) => VmBuilder;
  /** The destination's listening address for the migration and its recoveries. */
  listenHost?: string;
}

/** qtest's hooks: start (before migrating), onActive, beforeSwitchover, end, and the postcopy ones. */
export interface CaseHooks {
  /** After the pair and workload are up, before migrating: start fio, suspend the guest, ... */
  start?(run: PreparedRun): Promise<void>;
  /** Once the migration is active. */
  onActive?(run: MigratingRun): Promise<void>;
  /** Postcopy: during precopy, before the switch. */
  beforePostcopy?(run: MigratingRun): Promise<void>;
  /** Postcopy: once both sides are postcopy-active and the guest runs on the destination, before any fault. */
  inPostcopy?(run: MigratingRun): Promise<void>;
  /** With pause-before-switchover: while the source waits in pre-switchover. */
  beforeSwitchover?(run: MigratingRun): Promise<void>;
  /** Recovery: after each recovery, postcopy active again. */
  recovered?(run: MigratingRun, episode: Episode): Promise<void>;
  /** QEMU said completed and the destination took over, before the harness verifies: a fault on the destination's guest. */
  completed?(run: MigratingRun): Promise<void>;
  /** After a failure the source survived, before the retry (heal a partition). */
  beforeRetry?(run: PairRun): Promise<void>;
  /** After everything was checked: more assertions, with the report so far. */
  end?(run: PairRun, report: CaseReport): Promise<void>;
}

/**
 * What must happen. The outcome observed is checked against it in one place (expect.ts).
 * Without one, the expectation engine (expectations.ts) computes it from QEMU's rules.
 * - migrates: source postmigrate, destination in the source's run state, liveness and RAM checked.
 * - fails: the migration ends `status` (a fault, a cancel); the source runs on, intact.
 * - refused: a side refuses, in QEMU's words: its settings, the stream, or the switch to postcopy.
 * - dst-start-fails: the destination cannot even start (an unknown machine type).
 * - guest-dies: QEMU completes, but the guest is dead on the destination (a check QEMU does not make).
 * - guest-lost: a side died in postcopy; the harness must report it without hanging.
 * - lost: the source completed and the destination failed: the guest runs nowhere.
 * - wrong-run-state: QEMU completes, but a side ends in another run state than it must (`got`).
 * - crashes: a side's QEMU dies of a signal (an assertion's SIGABRT, a SIGSEGV), saying `message`.
 * - skip: the host or a binary lacks something; the reason names it.
 * - xfail: a known red on some QEMU versions: `expect` is what it does there; once it stops
 *   doing so the case fails, saying the known failure is gone.
 */
export type Expectation =
  | { kind: 'migrates'; why?: string }
  | { kind: 'fails'; status: 'failed' | 'cancelled'; why?: string }
  | { kind: 'refused'; side: Side; stage: RefusalStage; message: string; why: string; rule?: string }
  | { kind: 'dst-start-fails'; message: string; why: string }
  | { kind: 'guest-dies'; why: string }
  | { kind: 'guest-lost'; side: Side; why?: string }
  | { kind: 'lost'; message?: string; why: string }
  | { kind: 'crashes'; side: Side; message?: string; why: string }
  | { kind: 'wrong-run-state'; side: Side; got: RunState; why: string }
  | { kind: 'skip'; reason: string }
  | XFail;

/** A known failure: on the versions it names, the case does `expect` instead of what it should. */
export interface XFail {
  kind: 'xfail';
  /** The QEMU versions (labels matched as prefixes: "10.0", "11.1.3") on either side. */
  versions: string[];
  reason: string;
  /** What it does there, in place of the expectation it should meet. */
  expect: Exclude<Expectation, XFail | { kind: 'skip' }>;
  /** What it should do, elsewhere (default: migrates). */
  otherwise?: Exclude<Expectation, XFail>;
}

/** Where a refusal came: a side's settings (migrate-set-capabilities), the stream, or the switch to postcopy. */
export type RefusalStage = 'settings' | 'stream' | 'switch';

/** What happened, whatever was expected, decided from what both sides reported. */
export type Outcome =
  | { kind: 'migrated' }
  | { kind: 'wrong-run-state'; side: Side; expected: RunState; got: RunState }
  | { kind: 'refused'; side: Side; stage: RefusalStage; error: string }
  | { kind: 'failed'; status: 'failed' | 'cancelled'; error?: string }
  | { kind: 'lost'; error: string; sourceResumed?: boolean }
  | { kind: 'hung'; noProgressMs: number; error: string; last?: unknown }
  | { kind: 'crashed'; side: Side; signal?: string; code?: number; error: string }
  | { kind: 'dst-start-failed'; error: string }
  | { kind: 'guest-died'; error: string }
  | { kind: 'guest-lost'; side: Side; error: string };

/**
 * One migration scenario, declared: qtest's MigrateStart + MigrateCommon. The driver for its
 * mode owns the sequence: start the pair, the workload, migrate, fire the faults at their
 * triggers, verify, and after a failure check the source and retry. Its `id` is the test's name.
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
  /** Default: computed from QEMU's rules for the case's versions and placement (expectations.ts). */
  expect?: Expectation;
  /**
   * With no `expect`: what must happen where QEMU's rules let the case run at all (default
   * migrates); where they do not, the rules' refusal or skip stands (a cancel case on
   * capabilities an older QEMU refuses, say).
   */
  whenAllowed?: Expectation;
  /** A hosts file: the source on its src host, the destination on its dst host (default: the run's --hosts, else this machine). */
  hosts?: string;
  /** Why the case needs one host: across two hosts it skips, saying so. */
  oneHost?: string;
  /**
   * After a failure or a stream refusal that the source survived: migrate it again to a
   * fresh destination set up like the source (or like `destination`). Default on for those.
   */
  retry?: boolean | { destination?: SideSetup; migration?: MigrationSpec };
  /** Flakes known for this case alone, beside case/known-flakes.ts: an outcome matching one gets a second attempt on a fresh pair. */
  knownFlakes?: KnownFlake[];
  /** After a `lost` outcome: `cont` on the source, and check that the guest runs on there. */
  resumeSourceWhenLost?: boolean;
}

/** One postcopy failure and its recovery. */
export interface Episode {
  fault: string;
  /** Where the destination listened, and where the source resumed to. */
  dstUri: string;
  uri: string;
  faultAt: number;
  pausedAt: number;
  recoveredAt: number;
  /** A first resume that failed on purpose (failFirst), in QEMU's words. */
  failedResume?: string;
  /** The port the case asked the destination to listen on (recover.port), when it asked for one. */
  listenPort?: number;
}

/** What a case returns: its outcome, its verdict, and its figures (recorded by the scenario, not here). */
export interface CaseReport {
  outcome: Outcome;
  verdict: string;
  run: PairRun;
  /** Only what completed: a refused case has none. */
  migration?: MigrationResult;
  figures: MigrationFigures & { postcopyBlocktimeMs?: number; postcopyLatencyUs?: number; postcopyRemoteFaults?: number };
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
