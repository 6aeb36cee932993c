import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { cacheDir } from '../util/paths.js';
import { ARCHES, type Arch } from '../util/arch.js';

/** One installed QEMU system emulator. */
export interface QemuBinary {
  arch: Arch;
  path: string;
  /** "10.0.2" */
  version: string;
  /** -L directories it needs (a fetched version keeps its firmware beside it). */
  firmwareDirs: string[];
  source: 'system' | 'cache';
}

export function qemuCacheDir(): string {
  return join(cacheDir(), 'qemu');
}

export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\d+\.\d+\.\d+)/.exec(text)?.[1];
}

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

async function versionOf(path: string): Promise<string | undefined> {
  const r = await execa(path, ['--version'], { reject: false, timeout: 10_000 });
  return parseQemuVersion(r.stdout);
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
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
        const p = join(base, 'usr/bin', `qemu-system-${arch}`);
        if (!existsSync(p)) continue;
        const v = await versionOf(p);
        if (!v) continue;
        // -L replaces the compiled-in firmware path, so Debian's option ROMs (ipxe-qemu, which
        // every qemu-system package depends on) must be named too, or a NIC cannot start.
        const fw = [join(base, 'usr/share/qemu'), join(base, 'usr/share/seabios'), '/usr/lib/ipxe/qemu'].filter(existsSync);
        out.push({ arch, path: p, version: v, firmwareDirs: fw, source: 'cache' });
      }
    }
  }
  return out;
}

/**
 * Picks a binary for an arch: `version` may be a prefix ("7.2", "10.0"); without it (or
 * "system") the system one. The error lists what is installed.
 */
export async function findBinary(arch: Arch, version?: string): Promise<QemuBinary> {
  const all = (await listBinaries()).filter((b) => b.arch === arch);
  const match = version && version !== 'system'
    ? all.find((b) => b.version === version || b.version.startsWith(`${version}.`))
    : (all.find((b) => b.source === 'system') ?? all[0]);
  if (!match)
    throw new ConfigError(
      `qemu version for ${arch}`,
      version ? `'${version}' is not installed (try: migtest qemu fetch ${version})` : 'no qemu-system binary found',
      all.length ? all.map((b) => b.version) : 'none installed: run ci/setup.sh',
    );
  return match;
}
