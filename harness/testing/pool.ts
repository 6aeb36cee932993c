import type { ArtifactDir } from '../report/artifacts.js';
import type { VmBuilder } from '../vm/builder.js';
import type { StartedVm } from '../vm/started.js';

/** The VMs a test started; stopAll() stops every one even if some stop throws. */
export class VmPool {
  private readonly vms: StartedVm[] = [];

  constructor(private readonly artifacts: ArtifactDir) {}

  async start(builder: VmBuilder): Promise<StartedVm> {
    const vm = await builder.withArtifacts(this.artifacts).start();
    this.vms.push(vm);
    return vm;
  }

  async stopAll(): Promise<Error[]> {
    const results = await Promise.allSettled(this.vms.map((vm) => vm.stop()));
    return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  }
}
