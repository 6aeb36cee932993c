import type { Arch } from '../images/recipe.js';
import { compareVersions, findBinary } from '../qemu/catalog.js';
import { probeBinary } from '../qemu/probe.js';

/**
 * Why this run's QEMU for `arch` cannot test `capability`, or undefined when it can. A
 * capability may exist before it works: `usableSince` names that version (postcopy-preempt
 * appeared in 7.1 and was fixed for recovery in 8.0).
 */
export async function lacksCapability(arch: Arch, capability: string, usableSince?: string): Promise<string | undefined> {
  const bin = await findBinary(arch, process.env.MIGTEST_QEMU || undefined);
  const probe = await probeBinary(bin);
  if (!probe.capabilities.includes(capability)) return `QEMU ${bin.version} has no capability ${capability}`;
  if (usableSince && compareVersions(bin.version, usableSince) < 0)
    return `QEMU ${bin.version} has ${capability} but it is usable only from ${usableSince}`;
  return undefined;
}
