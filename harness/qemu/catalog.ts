import { FETCHABLE } from './debian.js';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { cacheDir, onPath } from '../util/paths.js';
import { ARCHES, type Arch } from '../util/arch.js';

/** One installed QEMU system emulator. */
export interface QemuBinary {
  arch: Arch;
  path: string;
  /** "10.0.2" */
  version: string;
  /** -L directories it needs (a fetched version keeps its firmware beside it). */
  firmwareDirs: string[];
  /** On PATH, fetched into the cache, named by path, or in a QEMU build directory. */
  source: 'system' | 'cache' | 'path' | 'build';
}

/** What a QEMU can be named by, wherever one is asked for (CLI, env, matrix, grid, API). */
export const QEMU_SPEC_FORMS = "a version label ('system', 'newest', '7.2', '10.0.2'), a qemu-system-* binary's path, or a QEMU build directory";

/** A spec that names a file or folder rather than a version label. */
export const isQemuPath = (spec: string): boolean => spec.includes('/') || spec.startsWith('.') || spec.startsWith('~');

export function qemuCacheDir(): string {
  return join(cacheDir(), 'qemu');
}

export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\d+\.\d+\.\d+)/.exec(text)?.[1];
}

/** A version matches a label that is itself or its prefix ("7.2" matches 7.2.22, not 7.20.1). */
export const versionMatches = (version: string, label: string): boolean => version === label || version.startsWith(`${label}.`);

/** Compares dotted versions numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** `<path> --version`: its text, the version in it, or why the binary did not run. */
export async function versionText(path: string): Promise<{ text: string; version?: string; why: string }> {
  const r = await execa(path, ['--version'], { reject: false, timeout: 10_000 });
  return { text: r.stdout, version: parseQemuVersion(r.stdout), why: (r.stderr.trim() || r.shortMessage || `exit ${r.exitCode}`).split('\n')[0]! };
}

/**
 * A binary's version, cached on disk by its path, size and mtime: `--version` costs 60 ms a
 * binary, and every run that lists the installed QEMUs would pay it for each of them.
 */
async function versionOf(path: string): Promise<string | undefined> {
  let file: string | undefined;
  try {
    const st = statSync(path);
    const key = createHash('sha256').update([path, st.size, st.mtimeMs].join('\0')).digest('hex').slice(0, 16);
    file = join(cacheDir(), 'version', `${key}.txt`);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    file = undefined;
  }
  const v = (await versionText(path)).version;
  if (v && file) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${v}\n`);
  }
  return v;
}


let listed: Promise<QemuBinary[]> | undefined;

/** The system QEMUs on PATH and every version fetched into the cache. */
export function listBinaries(refresh = false): Promise<QemuBinary[]> {
  if (!listed || refresh) listed = scan();
  return listed;
}

async function scan(): Promise<QemuBinary[]> {
  const out: QemuBinary[] = [];
  for (const arch of ARCHES) {
    const p = onPath(`qemu-system-${arch}`);
    const v = p && (await versionOf(p));
    if (p && v) out.push({ arch, path: p, version: v, firmwareDirs: [], source: 'system' });
  }
  const root = qemuCacheDir();
  if (existsSync(root)) {
    for (const ver of readdirSync(root)) {
      const base = join(root, ver);
      for (const arch of ARCHES) {
        // bin/: the launcher `qemu fetch` writes (the suite's own loader and libraries).
        const p = join(base, 'bin', `qemu-system-${arch}`);
        if (!existsSync(p)) continue;
        const v = await versionOf(p);
        if (!v) continue;
        // -L replaces the compiled-in firmware path, so the option ROMs of the NICs
        // (ipxe-qemu, fetched with it) must be named too, or a NIC cannot start.
        const fw = ['usr/share/qemu', 'usr/share/seabios', 'usr/lib/ipxe/qemu'].map((d) => join(base, d)).filter(existsSync);
        out.push({ arch, path: p, version: v, firmwareDirs: fw, source: 'cache' });
      }
    }
  }
  return out;
}

/**
 * Picks a binary for an arch. `version` is a label, a prefix ("7.2", "10.0"; without it, or
 * "system", the system one), or a path (see binaryAt). The error lists what is installed.
 */
export async function findBinary(arch: Arch, version?: string): Promise<QemuBinary> {
  if (version && isQemuPath(version)) return binaryAt(arch, version);
  const all = (await listBinaries()).filter((b) => b.arch === arch);
  const match =
    version === 'newest'
      ? [...all].sort((a, b) => compareVersions(b.version, a.version))[0]
      : version && version !== 'system'
        ? all.find((b) => versionMatches(b.version, version))
        : (all.find((b) => b.source === 'system') ?? all[0]);
  if (!match)
    throw new ConfigError(
      `qemu version for ${arch}`,
      version ? `'${version}' is not installed${FETCHABLE[version.split('.').slice(0, 2).join('.')] ? ` (fetch it: migtest qemu fetch ${version.split('.').slice(0, 2).join('.')})` : ` (migtest qemu fetch places ${Object.keys(FETCHABLE).join(', ')}; or name a binary's path or a build directory)`}` : 'no qemu-system binary found',
      all.length ? all.map((b) => b.version) : 'none installed: run ci/setup.sh',
    );
  return match;
}

const atPath = new Map<string, Promise<QemuBinary>>();

/**
 * A binary named by path, or the qemu-system-<arch> of a build directory (its pc-bios/ given
 * with -L) or beside a named binary of another arch. One that does not run says why (a
 * missing library, another machine's binary) before any VM starts.
 */
export function binaryAt(arch: Arch, spec: string): Promise<QemuBinary> {
  const key = `${arch}\0${spec}`;
  let p = atPath.get(key);
  if (!p) atPath.set(key, (p = locate(arch, spec)));
  return p;
}

async function locate(arch: Arch, spec: string): Promise<QemuBinary> {
  const field = `qemu for ${arch}`;
  const full = resolve(spec.replace(/^~(?=\/|$)/, homedir()));
  if (!existsSync(full)) throw new ConfigError(field, `'${spec}' does not exist`, QEMU_SPEC_FORMS);
  const isDir = statSync(full).isDirectory();
  let bin = isDir ? join(full, `qemu-system-${arch}`) : full;
  const named = /^qemu-system-(\w+)$/.exec(basename(full))?.[1];
  if (!isDir && named && named !== arch) bin = join(dirname(full), `qemu-system-${arch}`);
  if (!existsSync(bin))
    throw new ConfigError(field, isDir ? `'${spec}' has no qemu-system-${arch}` : `'${spec}' is a qemu-system-${named} and there is no qemu-system-${arch} beside it`, `a run limited to that arch (--arch ${named ?? '...'}), or ${QEMU_SPEC_FORMS}`);
  const { version, why } = await versionText(bin);
  if (!version) throw new ConfigError(field, `${bin} does not run: ${why}`);
  // A fetched QEMU's launcher named by its path: it needs the firmware the catalog gives it
  // (run through its own loader, QEMU cannot find its data folder by itself).
  const fetched = (await listBinaries()).find((b) => b.source === 'cache' && b.path === bin);
  if (fetched) return { ...fetched, source: 'path' };
  const dir = dirname(bin);
  const pcBios = join(dir, 'pc-bios');
  const build = existsSync(pcBios) && (existsSync(join(dir, 'build.ninja')) || existsSync(join(dir, 'config-host.mak')));
  return { arch, path: bin, version, firmwareDirs: build ? [pcBios] : [], source: build ? 'build' : 'path' };
}
