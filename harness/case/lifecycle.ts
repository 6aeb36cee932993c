import { BridgeChain } from '../faults/bridge.js';
import { NbdMirror, ROOT_MIRROR } from '../storage/nbd-mirror.js';
import { RamWorkload } from '../guest/ramcheck.js';
import { runHooks, startMigration, type MigrateOptions, type RunningMigration, type Side } from '../migration/migrate.js';
import { mergeSettings } from '../migration/postcopy.js';
import { waitBothPaused } from '../migration/recovery.js';
import { setupTls } from '../migration/tls.js';
import { TERMINAL } from '../migration/stats.js';
import { compareVersions } from '../qemu/catalog.js';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import type { VmBuilder } from '../vm/builder.js';
import type { Wait } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import { ConnectRoute } from './connect.js';
import { driverFor, type ModeDriver } from './drivers/index.js';
import type { CaseReport, Expectation, MigratingRun, MigrationCase, PairRun, PreparedRun } from './model.js';
import { finishRun } from './finish.js';
import type { StartedSides } from './pair.js';
import type { CaseStorage } from './storage.js';

/** The parts of a run, carried from one state to the next. */
export interface RunParts {
  scope: Scope;
  case: MigrationCase;
  src: StartedVm;
  dst: StartedVm;
  ram?: RamWorkload;
  versions: { src: string; dst: string };
  bridges?: BridgeChain;
  storage?: CaseStorage;
  /** What the case must do here (its own, or computed from QEMU's rules). */
  expectation: Expectation;
  /** The route a `migration.connect` case sends the source on. */
  connect?: ConnectRoute;
  /** Where the destination listens (a fault's network namespace), for recoveries and retries. */
  listenHost?: string;
  /** Places a destination where the faults' setups put this one (a retry's fresh destination). */
  placeDestination: (b: VmBuilder) => VmBuilder;
  /** A destination the mode starts with the migration (cpr-transfer); until then the source stands in as `dst`. */
  deferredDestination?: VmBuilder;
  /** A user's image across two hosts: the source's root disk mirrored into the destination's, READY before the migration. */
  rootMirror?: NbdMirror;
  /** Whether the pair mirrors its root (a destination that never started has no mirror yet, but a retry's needs one). */
  mirrorsRoot?: boolean;
}

/** What every state of a run holds: the pair, its workload, bridges and storage, and what it must do. */
export abstract class RunState implements PairRun {
  readonly scope: Scope;
  readonly case: MigrationCase;
  readonly src: StartedVm;
  readonly dst: StartedVm;
  readonly ram?: RamWorkload;
  readonly versions: { src: string; dst: string };
  readonly bridges?: BridgeChain;
  readonly storage?: CaseStorage;
  readonly expectation: Expectation;
  readonly connect?: ConnectRoute;
  readonly listenHost?: string;
  readonly placeDestination: (b: VmBuilder) => VmBuilder;

  constructor(readonly parts: RunParts) {
    this.scope = parts.scope;
    this.case = parts.case;
    this.src = parts.src;
    this.dst = parts.dst;
    this.ram = parts.ram;
    this.versions = parts.versions;
    this.bridges = parts.bridges;
    this.storage = parts.storage;
    this.expectation = parts.expectation;
    this.connect = parts.connect;
    this.listenHost = parts.listenHost;
    this.placeDestination = parts.placeDestination;
  }

  get driver(): ModeDriver {
    return driverFor(this.case.migration?.mode);
  }

  vm(side: Side): StartedVm {
    return side === 'source' ? this.src : this.dst;
  }
}

/** A pair up, its workload running, the start hook done: ready to migrate. */
export class Prepared extends RunState implements PreparedRun {
  /** Starts the migration and (in postcopy modes) switches to postcopy, with the case's hooks. */
  async migrate(): Promise<Migrating> {
    // The pre-switchover hook runs later, on the migrating run this creates.
    let run: Migrating | undefined;
    const opts = migrateOptions(this, () => run!);
    const deferred = this.parts.deferredDestination;
    let m: RunningMigration;
    if (deferred && this.driver.begin) {
      const begun = await this.driver.begin(this, deferred, opts);
      m = begun.m;
      run = new Migrating(this, m, begun.dst);
    } else {
      if (this.case.migration?.tls) await setupTls(this.scope, this.src, this.dst, this.case.migration.tls, opts.listenHost ?? '127.0.0.1');
      m = await startMigration(this.src, this.dst, opts);
      run = new Migrating(this, m);
    }
    const hooks = this.case.hooks;
    try {
      if (hooks?.onActive) {
        await m.waitStatus((s) => s === 'active' || TERMINAL.has(s), { what: 'to become active' });
        await hooks.onActive(run);
      }
      await this.driver.started(run);
    } catch (e) {
      // The outcome of a switch that failed is decided from both sides of the migration.
      if (e instanceof MigtestError && !('run' in e.context)) Object.defineProperty(e.context, 'run', { value: run, enumerable: false });
      throw e;
    }
    return run;
  }
}

/** A migration under way: `m` is always there. */
export class Migrating extends RunState implements MigratingRun {
  constructor(
    from: Prepared,
    readonly m: RunningMigration,
    /** The destination a mode started with the migration (cpr-transfer). */
    startedDestination?: StartedVm,
  ) {
    super(startedDestination ? { ...from.parts, dst: startedDestination, deferredDestination: undefined } : from.parts);
  }

  finish(): Promise<CaseReport> {
    return finishRun(this);
  }

  waitBothPaused(opts: Wait = {}): Promise<number> {
    return waitBothPaused(this.m, opts);
  }

  /** The migration's pre-switchover hooks (storage first, then the case's), as runHooks runs them. */
  runSwitchoverHooks(): Promise<void> {
    return runHooks(this.m, { beforeSwitchover: this.m.opts.beforeSwitchover });
  }
}

/** The MigrateOptions a case stands for: its mode's settings merged under its own (never dropped), hooks wired to the run. */
function migrateOptions(run: Prepared, migrating: () => Migrating): MigrateOptions {
  const spec = run.case.migration ?? {};
  const keep = spec.keepDestinationOnError === 'auto' ? compareVersions(run.dst.qemuVersion, '9.1') >= 0 : !!spec.keepDestinationOnError;
  const hook = run.case.hooks?.beforeSwitchover;
  const e = run.expectation;
  // The mirrors to complete (the root's, the storage's) first, then the case's.
  const root = run.parts.rootMirror;
  const rootDone = root && (async () => void run.scope.artifacts.writeJson('root-mirror.json', { ready: root.ready, completed: await root.complete() }));
  const before = [rootDone, run.storage?.beforeSwitchover, hook && (() => hook(migrating()))].filter((f) => !!f);
  return {
    ...spec,
    ...mergeSettings(run.driver.settings(spec), spec),
    // Across two hosts (or in a fault's namespace) the destination listens on its migration address, not loopback.
    listenHost: spec.listenHost ?? run.listenHost ?? run.dst.listenAddress,
    keepDestinationOnError: keep,
    route: run.connect?.route ?? run.bridges?.route,
    expect: e.kind === 'fails' ? e.status : 'completed',
    // startMigration turns on pause-before-switchover for it; runHooks calls it there.
    beforeSwitchover: before.length
      ? async () => {
          for (const f of before) await f();
        }
      : undefined,
  };
}

/**
 * The workload, the bridges, a connect route and the start hook, on a started pair. A
 * destination that never started stands in as `dst` only so the source's checks can run;
 * nothing migrates then.
 */
export async function prepare(scope: Scope, c: MigrationCase, sides: StartedSides): Promise<Prepared> {
  const { src, dst, versions, storage, expectation, listenHost, placeDestination, deferredDestination } = sides;
  // The guest's root disk, copied to the destination's own (sync top: both overlay the same file) until READY.
  const rootMirror = sides.rootMirror && dst ? await NbdMirror.start(src, dst, ROOT_MIRROR) : undefined;
  const driver = driverFor(c.migration?.mode);
  const workload = c.workload === false ? undefined : (c.workload ?? driver.workload);
  const ram = workload ? await RamWorkload.start(src, workload) : undefined;
  const bridged = c.migration?.bridged ?? driver.bridged;
  const bridges = bridged ? scope.track(new BridgeChain(scope.artifacts, src.host)) : undefined;
  const connect = c.migration?.connect ? await ConnectRoute.start(scope, c.migration.connect) : undefined;
  const run = new Prepared({ scope, case: c, src, dst: dst ?? src, ram, versions, bridges, storage, expectation, connect, listenHost, placeDestination, deferredDestination, rootMirror, mirrorsRoot: sides.rootMirror });
  if (dst) await storage?.start(src, dst);
  if (dst || deferredDestination) await c.hooks?.start?.(run);
  return run;
}
