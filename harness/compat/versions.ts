import type { Arch } from '../util/arch.js';
import { ConfigError } from '../util/errors.js';
import { findBinary, listBinaries, type QemuBinary } from '../qemu/catalog.js';
import { probeBinary, resolveMachine } from '../qemu/probe.js';
import { commonMachines, FAMILY, type Grid, type Version } from './grid.js';
import { expectMachine } from '../case/expectations.js';
import type { MigrationCase } from '../case/model.js';
import type { Accel } from '../util/arch.js';
import { pairCase } from './model.js';

/** The label a grid or case names an installed binary by: `system`, or its version. */
const label = (b: QemuBinary) => (b.source === 'system' ? 'system' : b.version);


/**
 * Cross-version pairs between every two installed QEMUs (the system one and each fetched),
 * both directions. Precopy on the newest machine type both know and on the source's own
 * newest type; postcopy on the type both know. Expectations come from the machine-type rule
 * (expectMachine). Postcopy is tried only where precopy migrates: a refused pair (Arm under
 * TCG, a known break) is the precopy case's finding, not a skip.
 */
export async function crossVersionCases(arch: Arch, accel: Accel): Promise<{ cases: MigrationCase[]; missing?: string }> {
  const bins = (await listBinaries()).filter((b) => b.arch === arch);
  if (bins.length < 2) return { cases: [], missing: `only one QEMU for ${arch} is installed (run: migtest qemu fetch 5.2 7.2 11.1)` };
  const cases: MigrationCase[] = [];
  for (const src of bins)
    for (const dst of bins) {
      if (src === dst) continue;
      const [sp, dp] = [await probeBinary(src), await probeBinary(dst)];
      const common = commonMachines(sp, dp, arch).at(-1);
      const newest = resolveMachine(sp, FAMILY[arch]);
      const pair = `${src.version} -> ${dst.version}`;
      for (const machine of [...new Set([common, newest])].filter((m): m is string => !!m))
        cases.push(
          pairCase(
            `${pair} on ${machine}${machine === newest ? " (the source's newest)" : ''}`,
            arch,
            { qemu: label(src), machine },
            { qemu: label(dst) },
            expectMachine(machine, dp, { arch, accel, src: sp }),
          ),
        );
      // Postcopy only where precopy migrates: a refused pair is the precopy case's finding.
      const e = common && expectMachine(common, dp, { arch, accel, src: sp });
      if (!e || e.kind !== 'migrates') continue;
      const c = pairCase(`${pair} postcopy on ${common}`, arch, { qemu: label(src), machine: common }, { qemu: label(dst) }, e);
      cases.push({ ...c, migration: { ...c.migration, mode: 'postcopy' } });
    }
  return { cases };
}

/**
 * A grid's versions for one arch, probed: `installed` stands for every installed and fetched
 * QEMU; a label or path that is not there is listed as missing, with why.
 */
export async function gridVersions(grid: Grid, arch: Arch): Promise<{ versions: Version[]; missing: Array<{ label: string; why: string; error: Error }> }> {
  const installed = (await listBinaries()).filter((b) => b.arch === arch).map(label);
  const labels = [...new Set(grid.versions.flatMap((l) => (l === 'installed' ? installed : [l])))];
  const versions: Version[] = [];
  const missing: Array<{ label: string; why: string; error: Error }> = [];
  for (const label of labels) {
    const bin = await findBinary(arch, label).catch((e: Error) => e);
    if (bin instanceof Error) missing.push({ label, why: bin.message, error: bin });
    else versions.push({ label, version: bin.version, probe: await probeBinary(bin) });
  }
  return { versions, missing };
}

/**
 * A grid's names checked against the binaries themselves, before any VM starts: each version
 * it names is installed or fetched (or a binary that runs), each machine type (not a
 * keyword) and each CPU model is known to at least one of its versions for that arch.
 */
export async function checkGrid(grid: Grid, arches: Arch[], source: string): Promise<void> {
  for (const arch of grid.arches.filter((a) => arches.includes(a))) {
    const { versions, missing } = await gridVersions(grid, arch);
    // The catalog's own refusal (not installed, no such path) with its list of what is there, said once.
    const gone = missing[0];
    if (gone) throw new ConfigError(`${source}: versions`, `'${gone.label}' for ${arch}: ${gone.error instanceof ConfigError ? gone.error.problem : gone.why}`, gone.error instanceof ConfigError && gone.error.allowed !== undefined ? gone.error.allowed : "installed, system, an installed or fetched version, a binary's path or a build directory");
    for (const m of grid.machines[arch] ?? [])
      if (!['newest', 'oldest', 'common'].includes(m) && !versions.some((v) => resolveMachine(v.probe, m)))
        throw new ConfigError(`${source}: machines.${arch}`, `'${m}' is a machine type none of its QEMUs (${versions.map((v) => v.version).join(', ')}) knows`, 'newest, oldest, common, or a machine type one of them knows (qemu-system-* -machine help)');
    for (const c of grid.cpus[arch] ?? [])
      if (!versions.some((v) => v.probe.cpuModels.includes(c)))
        throw new ConfigError(`${source}: cpus.${arch}`, `'${c}' is a CPU model none of its QEMUs (${versions.map((v) => v.version).join(', ')}) knows`, 'a CPU model one of them knows (qemu-system-* -cpu help)');
  }
}
