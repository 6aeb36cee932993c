import type { ArtifactDir } from '../report/artifacts.js';
import { connectRunHosts, type RunHosts } from '../host/run-hosts.js';
import { runConfig } from '../util/run-config.js';
import { PhaseClock } from '../util/phases.js';
import type { VmBuilder } from './builder.js';
import type { StartedVm } from './started.js';

/** Something a scope stops at its end: a bridge, a namespace, a blackhole. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/**
 * The VMs a test started; stopAll() stops every one even if some stop throws. Each start
 * (and each migration of its VMs) is timed on `clock`; a start that failed counts as one too.
 */
export class VmPool {
  private readonly vms: StartedVm[] = [];

  constructor(
    private readonly artifacts: ArtifactDir,
    readonly clock = new PhaseClock(),
  ) {}

  async start(builder: VmBuilder): Promise<StartedVm> {
    const asked = Date.now();
    const vm = await builder
      .withArtifacts(this.artifacts)
      .start()
      .catch((e: unknown) => {
        this.clock.add('boot', asked, Date.now());
        throw e;
      });
    vm.timeOn(this.clock);
    this.vms.push(vm);
    return vm;
  }

  /** A VM started by other means (a QEMU exec'd in place by cpr-exec): timed and stopped with the rest. */
  adopt(vm: StartedVm): StartedVm {
    vm.timeOn(this.clock);
    this.vms.push(vm);
    return vm;
  }

  async stopAll(): Promise<Error[]> {
    const results = await Promise.allSettled(this.vms.map((vm) => vm.stop()));
    return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  }
}

/**
 * Where a case or a scenario keeps what it started: its artifacts directory, its VMs, and
 * other things to stop after the VMs (in reverse order, each even if an earlier one threw).
 * The testing layer makes one per test; the library takes it instead of a test context.
 */
export class Scope {
  readonly vms: VmPool;
  /** Where the scope's time went: its VMs' starts and their migrations (the row's `phases`). */
  readonly clock = new PhaseClock();
  private readonly tracked: Stoppable[] = [];

  constructor(readonly artifacts: ArtifactDir) {
    this.vms = new VmPool(artifacts, this.clock);
  }

  track<T extends Stoppable>(thing: T): T {
    this.tracked.push(thing);
    return thing;
  }

  private hostsConn: Promise<RunHosts> | undefined;

  /**
   * The hosts of a hosts file (default: the run's, MIGTEST_HOSTS), connected once for this
   * scope and closed after its VMs; undefined when everything runs on this machine.
   */
  runHosts(file = runConfig().hosts): Promise<RunHosts> | undefined {
    if (!file) return undefined;
    this.hostsConn ??= connectRunHosts(file);
    return this.hostsConn;
  }

  /** Stops the VMs, then everything tracked, then the hosts' connections; returns every error, throws none. */
  async close(): Promise<Error[]> {
    const errors = await this.vms.stopAll();
    for (const t of this.tracked.splice(0).reverse()) await t.stop().catch((e: Error) => errors.push(e));
    if (this.hostsConn) await (await this.hostsConn.catch(() => undefined))?.close().catch((e: Error) => errors.push(e));
    return errors;
  }
}
