import { realpathSync } from 'node:fs';
import { FETCHABLE } from '../qemu/debian.js';
import { compareVersions, findBinary, isQemuPath, listBinaries, versionMatches, type QemuBinary } from '../qemu/catalog.js';
import type { Arch } from '../util/arch.js';
import { ConfigError } from '../util/errors.js';

/** One QEMU build a bisect can test. */
export interface Build {
  /** How output names it: its version ("7.2.22"), with where it lives when two builds share one. */
  label: string;
  version: string;
  /** What `migtest run --qemu` is given: the version when that names this build alone, else its path. */
  spec: string;
  path: string;
  source: QemuBinary['source'];
}

/** Where a build comes from, for builds of the same version: the system one first. */
const SOURCES: QemuBinary['source'][] = ['system', 'cache', 'path', 'build'];

const realPath = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/** Every build once (one binary reached by two paths is one build), oldest version first. */
export function sortBuilds(bins: QemuBinary[]): QemuBinary[] {
  const seen = new Map<string, QemuBinary>();
  for (const b of bins) if (!seen.has(realPath(b.path))) seen.set(realPath(b.path), b);
  return [...seen.values()].sort(
    (a, b) => compareVersions(a.version, b.version) || SOURCES.indexOf(a.source) - SOURCES.indexOf(b.source) || a.path.localeCompare(b.path),
  );
}

/** Labels and specs: a version label where it names one build, the path where it does not. */
export function toBuilds(ordered: QemuBinary[], catalog: QemuBinary[]): Build[] {
  return ordered.map((b) => {
    const inCatalog = catalog.some((c) => realPath(c.path) === realPath(b.path));
    const byVersion = catalog.filter((c) => versionMatches(c.version, b.version));
    const unique = ordered.filter((o) => o.version === b.version).length === 1;
    return {
      label: unique ? b.version : `${b.version} (${b.source} ${b.path})`,
      version: b.version,
      spec: inCatalog && byVersion.length === 1 ? b.version : b.path,
      path: b.path,
      source: b.source,
    };
  });
}

/**
 * The builds from good to bad, both included, in version order: upward when the good one is
 * the older (a regression), downward when it is the newer (where a fix landed).
 */
export function between<T extends { path: string }>(ordered: T[], good: T, bad: T): T[] {
  const i = ordered.findIndex((b) => realPath(b.path) === realPath(good.path));
  const j = ordered.findIndex((b) => realPath(b.path) === realPath(bad.path));
  if (i < 0 || j < 0) throw new Error('between: an endpoint is not in the list');
  return i <= j ? ordered.slice(i, j + 1) : ordered.slice(j, i + 1).reverse();
}

/** What --good and --bad take, with the builds installed for the arch. */
export function allowedSpecs(catalog: QemuBinary[]): string[] {
  return [...new Set(sortBuilds(catalog).map((b) => b.version)), 'default (the system QEMU)', 'newest', "a qemu-system-* binary's path", 'a QEMU build directory'];
}

export interface Catalog {
  listBinaries: () => Promise<QemuBinary[]>;
  findBinary: (arch: Arch, spec?: string) => Promise<QemuBinary>;
}

/** One endpoint, as `run --qemu` would find it; a missing one is refused naming the option and what is installed. */
async function endpoint(arch: Arch, field: string, spec: string, catalog: QemuBinary[], find: Catalog['findBinary']): Promise<QemuBinary> {
  try {
    return await find(arch, spec === 'default' ? 'system' : spec);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const fetchable = FETCHABLE[spec.split('.').slice(0, 2).join('.')];
    const problem = isQemuPath(spec)
      ? e.message.replace(/^invalid [^:]+: /, '').replace(/; allowed: .*$/s, '')
      : `no ${arch} QEMU '${spec}' is installed${fetchable ? ` (fetch it: migtest qemu fetch ${spec.split('.').slice(0, 2).join('.')})` : ''}`;
    throw new ConfigError(field, problem, allowedSpecs(catalog));
  }
}

/**
 * The candidate builds of a bisect: the installed and fetched QEMUs for the arch and the two
 * named (which may be paths or build directories), in version order from --good to --bad.
 * Both are checked (found, and run with --version) before anything runs.
 */
export async function candidateBuilds(arch: Arch, good: string, bad: string, deps: Catalog = { listBinaries: () => listBinaries(), findBinary }): Promise<Build[]> {
  const catalog = (await deps.listBinaries()).filter((b) => b.arch === arch);
  const g = await endpoint(arch, '--good', good, catalog, deps.findBinary);
  const b = await endpoint(arch, '--bad', bad, catalog, deps.findBinary);
  if (realPath(g.path) === realPath(b.path))
    throw new ConfigError('--good/--bad', `both name the same build (QEMU ${g.version}, ${g.path})`, 'two different builds: ' + allowedSpecs(catalog).join(', '));
  const ordered = sortBuilds([...catalog, g, b]);
  const builds = toBuilds(ordered, catalog);
  const byPath = (q: QemuBinary) => builds.find((x) => realPath(x.path) === realPath(q.path))!;
  return between(builds, byPath(g), byPath(b));
}
