import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir } from '../util/paths.js';
import type { QemuBinary } from './catalog.js';
import { binaryCacheFile } from './probe.js';

/** One VMStateDescription as `-dump-vmstate` writes it. */
export interface VmsdDesc {
  name: string;
  version_id: number;
  minimum_version_id: number;
  Fields?: Array<{ field: string; version_id: number; field_exists: boolean; size: number; Description?: VmsdDesc }>;
  Subsections?: VmsdDesc[];
}

/** `-dump-vmstate` output: device type -> its description (only types that have one). */
export type VmstateDump = Record<string, { Name: string; version_id: number; minimum_version_id: number; Description: VmsdDesc }>;


/**
 * A binary's `-dump-vmstate` for a machine type, cached by binary and machine. QEMU writes it
 * and exits before creating the machine; a machine type it does not know is the error.
 */
export async function dumpVmstate(bin: QemuBinary, machine: string): Promise<{ dump: VmstateDump } | { error: string }> {
  const file = binaryCacheFile(bin, 'vmstate', machine);
  if (!existsSync(file)) {
    mkdirSync(join(cacheDir(), 'vmstate'), { recursive: true });
    const tmp = `${file}.${process.pid}`;
    const r = await execa(bin.path, [...bin.firmwareDirs.flatMap((d) => ['-L', d]), '-nodefaults', '-display', 'none', '-machine', machine, '-accel', 'tcg', '-dump-vmstate', tmp], {
      reject: false,
      timeout: 60_000,
    });
    if (r.exitCode !== 0 || !existsSync(tmp) || statSync(tmp).size === 0) {
      rmSync(tmp, { force: true });
      const said = r.stderr.split('\n').filter((l) => l && !/warning: /.test(l)).at(-1) ?? r.shortMessage ?? `exit ${r.exitCode}`;
      return { error: said.replace(/^[\w./-]+: /, '') };
    }
    renameSync(tmp, file);
  }
  return { dump: JSON.parse(readFileSync(file, 'utf8')) as VmstateDump };
}

/** What a static reading of the two dumps says will happen. */
export type StaticPrediction = 'compatible' | 'may-refuse' | 'refused' | 'dst-start-fails';

export interface StaticIssue {
  /** definite: the destination cannot load what the source sends; possible: only if a subsection is sent. */
  level: 'definite' | 'possible';
  at: string;
  what: string;
}

export interface StaticVerdict {
  predicted: StaticPrediction;
  issues: StaticIssue[];
  /** How many device types were compared (instantiated ones when known). */
  compared: number;
}

/**
 * Compares what the source sends with what the destination accepts, device by device. The
 * stream carries a section's name and version, then its fields by position, without their
 * names: so the version must be within the destination's [minimum, current], and at the
 * version the source sends the two field lists must agree in count, shape (struct or leaf)
 * and leaf size. A renamed field of the same size is no change. A subsection the destination
 * lacks refuses only when it is sent, which only a run tells. Struct sizes are C layout, not
 * the wire, and are not compared. `types`: the device types the source instantiated (others
 * are never sent); without it, every type the source has.
 */
export function compareVmstate(srcDump: VmstateDump, dstDump: VmstateDump, types?: Iterable<string>): StaticVerdict {
  // Entries without a description are not devices (`vmschkmachine` names the machine type).
  const devices = (d: VmstateDump) => Object.fromEntries(Object.entries(d).filter(([, e]) => e.Description)) as VmstateDump;
  const [src, dst] = [devices(srcDump), devices(dstDump)];
  const issues: StaticIssue[] = [];
  const names = types ? [...new Set(types)].filter((t) => src[t]) : Object.keys(src);
  const byVmsd = new Map<string, VmstateDump[string][]>();
  for (const e of Object.values(dst)) byVmsd.set(e.Description.name, [...(byVmsd.get(e.Description.name) ?? []), e]);
  for (const t of names) {
    // A QOM type renamed ('ICH9 SMB' -> 'ICH9-SMB') keeps its section: the wire names the description.
    const same = byVmsd.get(src[t]!.Description.name);
    const d = dst[t] ?? (same?.length === 1 ? same[0] : undefined);
    if (!d) {
      // The dump lists device types only: the destination may register the section outside QOM (5.2's ps2kbd).
      issues.push({ level: 'possible', at: t, what: `no device type with section '${src[t]!.Description.name}' on the destination (it may register one outside QOM)` });
      continue;
    }
    const [a, b] = [src[t]!.Description, d.Description];
    // The section's name is on the wire (nested descriptions' names are not).
    if (a.name !== b.name) issues.push({ level: 'definite', at: t, what: `section named '${a.name}' on the source, '${b.name}' on the destination` });
    else compareDesc(a, b, t, 'definite', issues);
  }
  const predicted: StaticPrediction = issues.some((i) => i.level === 'definite') ? 'refused' : issues.length ? 'may-refuse' : 'compatible';
  return { predicted, issues, compared: names.length };
}

function compareDesc(s: VmsdDesc, d: VmsdDesc, at: string, level: StaticIssue['level'], out: StaticIssue[]): void {
  const here = `${at} (${s.name})`;
  if (s.version_id > d.version_id) return void out.push({ level, at: here, what: `version ${s.version_id} sent, the destination loads up to ${d.version_id}` });
  if (s.version_id < d.minimum_version_id)
    return void out.push({ level, at: here, what: `version ${s.version_id} sent, the destination needs at least ${d.minimum_version_id}` });
  // Both read the fields the stream's version (the source's) carries.
  const sent = (x: VmsdDesc) => (x.Fields ?? []).filter((f) => f.version_id <= s.version_id);
  const [sf, df] = [sent(s), sent(d)];
  if (sf.length !== df.length) out.push({ level, at: here, what: `${sf.length} fields sent, the destination loads ${df.length}` });
  for (let i = 0; i < Math.min(sf.length, df.length); i++) {
    const [a, b] = [sf[i]!, df[i]!];
    if (!!a.Description !== !!b.Description) {
      out.push({ level, at: here, what: `field ${i + 1} ('${a.field}') is a ${a.Description ? 'struct' : 'leaf'} on the source, a ${b.Description ? 'struct' : 'leaf'} on the destination` });
      break;
    }
    if (a.Description && b.Description) compareDesc(a.Description, b.Description, `${at}.${a.field}`, level, out);
    else if (a.size !== b.size) out.push({ level, at: here, what: `field ${i + 1} ('${a.field}') is ${a.size} bytes on the source, ${b.size} on the destination` });
  }
  for (const sub of s.Subsections ?? []) {
    const other = (d.Subsections ?? []).find((x) => x.name === sub.name);
    if (!other) out.push({ level: 'possible', at: here, what: `subsection '${sub.name}' unknown to the destination (refused if the source sends it)` });
    else compareDesc(sub, other, `${at}/${sub.name}`, 'possible', out);
  }
}

/** Types in `info qom-tree` output ("  /device[0] (qemu64-x86_64-cpu)"). */
export function qomTreeTypes(text: string): string[] {
  return [...new Set([...text.matchAll(/^\s*\/\S* \(([^)]+)\)\s*$/gm)].map((m) => m[1]!))];
}
