import type { Arch } from '../images/recipe.js';
import type { VmPool } from '../testing/pool.js';
import { VmBuilder } from '../vm/builder.js';
import type { StartedVm } from '../vm/started.js';

export interface Pair {
  src: StartedVm;
  dst: StartedVm;
}

/**
 * A source booted to ready and an identical destination waiting with -incoming defer.
 * The destination starts while the source boots: it has nothing to boot.
 */
export async function startPair(
  vms: VmPool,
  arch: Arch,
  configure: (b: VmBuilder) => VmBuilder = (b) => b,
  configureDst: (b: VmBuilder) => VmBuilder = (b) => b,
): Promise<Pair> {
  const srcBuilder = configure(new VmBuilder('src', arch));
  const dstBuilder = configureDst(srcBuilder.clone('dst').withIncoming());
  const src = await vms.start(srcBuilder);
  const [dst] = await Promise.all([vms.start(dstBuilder), src.waitReady()]);
  return { src, dst };
}
