import type { Arch } from '../util/arch.js';
import { compareVersions, findBinary, type QemuBinary } from '../qemu/catalog.js';
import { probeBinary } from '../qemu/probe.js';
import { runConfig } from '../util/run-config.js';

/**
 * Why this run's QEMU for `arch` cannot test `capability`, or undefined when it can. A
 * capability may exist before it works: `usableSince` names that version (postcopy-preempt
 * appeared in 7.1 and was fixed for recovery in 8.0).
 */
export async function lacksCapability(arch: Arch, capability: string, usableSince?: string): Promise<string | undefined> {
  const bin = await findBinary(arch, runConfig().qemu.src);
  const probe = await probeBinary(bin);
  if (!probe.capabilities.includes(capability)) return `QEMU ${bin.version} has no capability ${capability}`;
  if (usableSince && compareVersions(bin.version, usableSince) < 0)
    return `QEMU ${bin.version} has ${capability} but it is usable only from ${usableSince}`;
  return undefined;
}

/** A case expectation that skips when the capability is missing or not yet usable (else undefined: the case's own). */
export async function skipUnless(arch: Arch, capability: string, usableSince?: string): Promise<{ kind: 'skip'; reason: string } | undefined> {
  const lacks = await lacksCapability(arch, capability, usableSince);
  return lacks ? { kind: 'skip', reason: lacks } : undefined;
}

/** The QEMU each side of this run uses for `arch` (--qemu, --src-qemu, --dst-qemu, else the system one). */
export async function runQemu(arch: Arch): Promise<{ src: QemuBinary; dst: QemuBinary }> {
  const q = runConfig().qemu;
  return { src: await findBinary(arch, q.src), dst: await findBinary(arch, q.dst) };
}
