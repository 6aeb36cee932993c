import type { Arch } from '../util/arch.js';
import { findBinary, listBinaries, type QemuBinary } from '../qemu/catalog.js';
import { probeBinary, resolveMachine } from '../qemu/probe.js';
import { expectMachine, FAMILY, versionedMachines, type Grid, type Version } from './grid.js';
import type { MigrationCase } from '../case/model.js';
import type { Accel } from '../util/arch.js';
import { pairCase } from './model.js';

/** The label a grid or case names an installed binary by: `system`, or its version. */
const label = (b: QemuBinary) => (b.source === 'system' ? 'system' : b.version);

/** The newest versioned machine type of the family that both probes know ("pc-q35-7.2"). */
function newestCommon(a: string[], b: string[], family: string): string | undefined {
  return versionedMachines(a.filter((n) => b.includes(n)), family === 'q35' ? 'pc-q35-' : 'virt-').at(-1);
}

/**
 * Cross-version pairs between the system QEMU and every fetched one, both directions: with
 * the newest machine type both know, and with the source's own newest type. Expectations
 * come from the machine-type rule (expectMachine).
 */
export async function crossVersionCases(arch: Arch, accel: Accel): Promise<{ cases: MigrationCase[]; missing?: string }> {
  const bins = (await listBinaries()).filter((b) => b.arch === arch);
  const system = bins.find((b) => b.source === 'system');
  const others = bins.filter((b) => b.source === 'cache');
  if (!system || !others.length) return { cases: [], missing: `only one QEMU for ${arch} is installed (run: migtest qemu fetch 7.2)` };
  const cases: MigrationCase[] = [];
  for (const other of others)
    for (const [src, dst] of [[other, system], [system, other]] as const) {
      const [sp, dp] = [await probeBinary(src), await probeBinary(dst)];
      const common = newestCommon(sp.machines.map((m) => m.name), dp.machines.map((m) => m.name), FAMILY[arch]);
      const newest = resolveMachine(sp, FAMILY[arch]);
      for (const machine of [...new Set([common, newest])].filter((m): m is string => !!m))
        cases.push(
          pairCase(
            `${src.version} -> ${dst.version} on ${machine}${machine === newest ? " (the source's newest)" : ''}`,
            arch,
            { qemu: label(src), machine },
            { qemu: label(dst) },
            expectMachine(machine, dp, { arch, accel, src: sp }),
          ),
        );
    }
  return { cases };
}

/**
 * A grid's versions for one arch, probed: `installed` stands for every installed and fetched
 * QEMU; a label or path that is not there is listed as missing, with why.
 */
export async function gridVersions(grid: Grid, arch: Arch): Promise<{ versions: Version[]; missing: Array<{ label: string; why: string }> }> {
  const installed = (await listBinaries()).filter((b) => b.arch === arch).map(label);
  const labels = [...new Set(grid.versions.flatMap((l) => (l === 'installed' ? installed : [l])))];
  const versions: Version[] = [];
  const missing: Array<{ label: string; why: string }> = [];
  for (const label of labels) {
    const bin = await findBinary(arch, label).catch((e: Error) => e);
    if (bin instanceof Error) missing.push({ label, why: bin.message });
    else versions.push({ label, version: bin.version, probe: await probeBinary(bin) });
  }
  return { versions, missing };
}
