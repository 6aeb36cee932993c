import { RamWorkload, type RamWorkloadOptions } from '../guest/ramcheck.js';
import type { Arch } from '../util/arch.js';
import type { VmPool } from '../vm/pool.js';
import { VmBuilder } from '../vm/builder.js';
import type { StartedVm } from '../vm/started.js';

export interface Pair {
  src: StartedVm;
  dst: StartedVm;
}

export interface PairOptions {
  configure?: (b: VmBuilder) => VmBuilder;
  /** Applied to the destination after it was cloned from the source's builder. */
  configureDst?: (b: VmBuilder) => VmBuilder;
}

/**
 * A source booted to ready and an identical destination waiting with -incoming defer.
 * The destination starts while the source boots: it has nothing to boot.
 */
export async function startPair(vms: VmPool, arch: Arch, opts: PairOptions | ((b: VmBuilder) => VmBuilder) = {}): Promise<Pair> {
  const o: PairOptions = typeof opts === 'function' ? { configure: opts } : opts;
  const srcBuilder = (o.configure ?? ((b) => b))(new VmBuilder('src', arch));
  const dstBuilder = (o.configureDst ?? ((b) => b))(srcBuilder.clone('dst').withIncoming());
  const src = await vms.start(srcBuilder);
  await dstBuilder.withMachineOf(src);
  const [dst] = await Promise.all([vms.start(dstBuilder), src.waitReady()]);
  return { src, dst };
}

/** A pair whose source runs the RAM workload from the start (most scenarios want both). */
export async function startPairWithRam(
  vms: VmPool,
  arch: Arch,
  workload: RamWorkloadOptions,
  opts: PairOptions | ((b: VmBuilder) => VmBuilder) = {},
): Promise<Pair & { ram: RamWorkload }> {
  const pair = await startPair(vms, arch, opts);
  return { ...pair, ram: await RamWorkload.start(pair.src, workload) };
}
