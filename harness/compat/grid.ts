import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ARCHES, type Arch } from '../util/arch.js';
import { compareVersions, isQemuPath, QEMU_SPEC_FORMS } from '../qemu/catalog.js';
import { resolveMachine, type QemuProbe } from '../qemu/probe.js';
import type { Accel } from '../util/arch.js';
import type { Expectation, MigrationCase } from '../case/model.js';
import { ConfigError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import { configErrorFrom } from '../util/zod.js';
import { pairCase, refusedStream } from './model.js';

/**
 * A compatibility grid: versions x machine types x CPU models. `system` is the installed
 * QEMU; `newest` is the source's newest machine type of the family (q35, virt), resolved
 * from its probe, which is what a VM started with the bare alias gets.
 */
const perArch = z.object({ x86_64: z.array(z.string().min(1)).min(1).optional(), aarch64: z.array(z.string().min(1)).min(1).optional() }).strict();

export const gridSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    arches: z.array(z.enum(ARCHES)).min(1),
    versions: z
      .array(z.string().refine((v) => /^(system|installed|\d+\.\d+(\.\d+)?)$/.test(v) || isQemuPath(v), `installed (every installed and fetched QEMU), or ${QEMU_SPEC_FORMS}`))
      .min(1),
    machines: perArch,
    cpus: perArch,
  })
  .strict();

export type Grid = z.infer<typeof gridSchema>;

export const gridDir = () => join(repoRoot, 'config', 'compat');
export const gridPresets = () => readdirSync(gridDir()).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort();

export function loadGrid(nameOrPath: string): Grid {
  const file = existsSync(nameOrPath) ? nameOrPath : join(gridDir(), `${nameOrPath}.yaml`);
  if (!existsSync(file)) throw new ConfigError('compat grid', `'${nameOrPath}' is neither a preset nor a file`, gridPresets());
  return parseGrid(parseYaml(readFileSync(file, 'utf8')), file);
}

export function parseGrid(raw: unknown, source = 'grid'): Grid {
  const r = gridSchema.safeParse(raw);
  if (!r.success) throw configErrorFrom(r.error.issues[0]!, source, () => Object.keys(gridSchema.shape));
  for (const arch of r.data.arches)
    for (const axis of ['machines', 'cpus'] as const)
      if (!r.data[axis][arch]) throw new ConfigError(`${source}: ${axis}.${arch}`, `missing for listed arch ${arch}`, 'a list of names');
  return r.data;
}

export const FAMILY: Record<Arch, string> = { x86_64: 'q35', aarch64: 'virt' };

/** Versioned machine types of a family ("pc-q35-" + "7.2"), oldest first. */
export function versionedMachines(names: string[], prefix: string): string[] {
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+\.\d+$/.test(n.slice(prefix.length)))
    .sort((a, b) => compareVersions(a.slice(prefix.length), b.slice(prefix.length)));
}


/**
 * Rules for a pair of versions on one machine type:
 * - a destination that lacks the machine type cannot start;
 * - Arm under TCG: the CPU's system-register list (cpreg) grows between QEMU versions and
 *   the destination refuses registers it does not know, or a longer list than its own
 *   (observed 7.2.22 <-> 10.0.2 both ways). Versioned machine types do not cover it; under
 *   KVM the list comes from the host kernel (untried here: no usable KVM);
 * - otherwise it migrates: versioned machine types exist for exactly this.
 */
export function expectMachine(machine: string, dst: QemuProbe, ctx?: { arch: Arch; accel: Accel; src: QemuProbe }): Expectation {
  if (!resolveMachine(dst, machine))
    return {
      kind: 'dst-start-fails',
      message: 'unsupported machine type',
      why: `QEMU ${dst.version} does not know ${machine}: a newer source's newest type cannot go back`,
    };
  if (ctx && ctx.arch === 'aarch64' && ctx.accel === 'tcg' && ctx.src.version !== dst.version)
    return refusedStream(
      "error while loading state for instance 0x0 of device 'cpu'",
      `under TCG the Arm CPU register list differs between QEMU ${ctx.src.version} and ${dst.version}; versioned machine types do not cover it`,
    );
  return { kind: 'migrates', why: `QEMU ${dst.version} keeps ${machine}'s device layout and defaults` };
}

export interface Version {
  label: string;
  version: string;
  probe: QemuProbe;
}

/** A version in a cell's name; one named by path says which binary (an installed one may share its version). */
const shown = (v: Version) => (isQemuPath(v.label) ? `${v.version}@${v.label}` : v.version);

/** Cells for one arch: ordered pairs of versions x machines x CPU models, each with its rule-made expectation. */
export function expandGrid(grid: Grid, arch: Arch, versions: Version[], accel: Accel): MigrationCase[] {
  const cases: MigrationCase[] = [];
  for (const src of versions) {
    const newest = resolveMachine(src.probe, FAMILY[arch]);
    // `newest` resolved per source; a source whose newest is also listed gets one cell.
    const machines = new Set((grid.machines[arch] ?? []).map((x) => (x === 'newest' ? (newest ?? x) : x)));
    for (const dst of versions)
      for (const machine of machines) {
        const isNewest = machine === newest;
        for (const cpu of grid.cpus[arch] ?? []) {
          const id = `${arch} ${shown(src)}->${shown(dst)} ${isNewest ? `${machine} (newest)` : machine} ${cpu}`;
          let expect: Expectation;
          if (!resolveMachine(src.probe, machine)) expect = { kind: 'skip', reason: `QEMU ${src.version} has no machine type ${machine}` };
          else if (!src.probe.cpuModels.includes(cpu)) expect = { kind: 'skip', reason: `QEMU ${src.version} has no CPU model ${cpu}` };
          else expect = expectMachine(machine, dst.probe, { arch, accel, src: src.probe });
          cases.push(pairCase(id, arch, { qemu: src.label, machine, cpu }, { qemu: dst.label }, expect));
        }
      }
  }
  return cases;
}
