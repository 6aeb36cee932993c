import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ARCHES, type Arch } from '../util/arch.js';
import { compareVersions, isQemuPath, QEMU_SPEC_FORMS } from '../qemu/catalog.js';
import { expectMachine } from '../case/expectations.js';
import { resolveMachine, type QemuProbe } from '../qemu/probe.js';
import type { Accel } from '../util/arch.js';
import type { Expectation, MigrationCase } from '../case/model.js';
import { ConfigError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import { configErrorFrom, readYamlFile } from '../util/zod.js';
import { pairCase } from './model.js';

/**
 * A compatibility grid: versions x machine types x CPU models. `system` is the installed
 * QEMU, `installed` every installed and fetched one. Machine keywords, per ordered pair:
 * `newest` is the source's newest type of the family (q35, virt), what a VM started with
 * the bare alias gets; `oldest` and `common` are the oldest and newest versioned types both
 * sides know.
 */
const perArch = z.object({ x86_64: z.array(z.string().min(1)).min(1).optional(), aarch64: z.array(z.string().min(1)).min(1).optional() }).strict();

export const gridSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    arches: z.array(z.enum(ARCHES)).min(1),
    versions: z
      .array(z.string({ invalid_type_error: "a QEMU version must be a string: write it quoted ('7.2'), or 'system', 'installed', a binary's path or a build directory" }).refine((v) => /^(system|installed|\d+\.\d+(\.\d+)?)$/.test(v) || isQemuPath(v), `installed (every installed and fetched QEMU), or ${QEMU_SPEC_FORMS}`))
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
  return parseGrid(readYamlFile(file, 'compat grid'), file);
}

export function parseGrid(raw: unknown, source = 'grid'): Grid {
  const r = gridSchema.safeParse(raw);
  // An unknown key under machines or cpus is an arch; anywhere else, a grid's own key.
  if (!r.success) throw configErrorFrom(r.error.issues[0]!, source, (path) => (path.length ? ARCHES : Object.keys(gridSchema.shape)));
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


export interface Version {
  label: string;
  version: string;
  probe: QemuProbe;
}

/** A version in a cell's name; one named by path says which binary (an installed one may share its version). */
const shown = (v: Version) => (isQemuPath(v.label) ? `${v.version}@${v.label}` : v.version);

/** The versioned machine types of a family that both probes know, oldest first. */
export function commonMachines(a: QemuProbe, b: QemuProbe, arch: Arch): string[] {
  const names = new Set(b.machines.map((m) => m.name));
  return versionedMachines(a.machines.map((m) => m.name).filter((n) => names.has(n)), FAMILY[arch] === 'q35' ? 'pc-q35-' : 'virt-');
}

/** Grid machine keywords, per ordered pair: the source's newest, and the oldest / newest type both know. */
const KEYWORDS: Record<string, string> = { newest: 'newest', oldest: 'oldest both know', common: 'newest both know' };

/** Cells for one arch: ordered pairs of versions x machines x CPU models, each with its rule-made expectation. */
export function expandGrid(grid: Grid, arch: Arch, versions: Version[], accel: Accel): MigrationCase[] {
  const cases: MigrationCase[] = [];
  for (const src of versions)
    for (const dst of versions) {
      const common = commonMachines(src.probe, dst.probe, arch);
      const pick = (x: string) => (x === 'newest' ? resolveMachine(src.probe, FAMILY[arch]) : x === 'oldest' ? common[0] : x === 'common' ? common.at(-1) : x) ?? x;
      // Keywords resolved per pair; a type named twice gets one cell, named by its first keyword.
      const machines = new Map<string, string | undefined>();
      for (const x of grid.machines[arch] ?? []) machines.set(pick(x), machines.get(pick(x)) ?? KEYWORDS[x]);
      for (const [machine, keyword] of machines)
        for (const cpu of grid.cpus[arch] ?? []) {
          const id = `${arch} ${shown(src)}->${shown(dst)} ${keyword ? `${machine} (${keyword})` : machine} ${cpu}`;
          let expect: Expectation;
          if (!resolveMachine(src.probe, machine)) expect = { kind: 'skip', reason: `QEMU ${src.version} has no machine type ${machine}` };
          else if (!src.probe.cpuModels.includes(cpu)) expect = { kind: 'skip', reason: `QEMU ${src.version} has no CPU model ${cpu}` };
          else expect = expectMachine(machine, dst.probe, { arch, accel, src: src.probe });
          cases.push(pairCase(id, arch, { qemu: src.label, machine, cpu }, { qemu: dst.label }, expect));
        }
    }
  return cases;
}
