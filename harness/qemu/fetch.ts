import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES } from '../util/arch.js';
import { ConfigError, MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { shellQuote } from '../util/shell.js';
import { listBinaries, qemuCacheDir, versionText, type QemuBinary } from './catalog.js';
import { aptUpdate, FETCHABLE, writeAtomic } from './debian.js';

export { FETCHABLE };


/** The suite of a version that can be fetched; a ConfigError naming the ones that can, else. */
export function fetchableSuite(version: string): string {
  const suite = FETCHABLE[version];
  if (!suite) throw new ConfigError('qemu fetch version', `'${version}' cannot be fetched`, Object.keys(FETCHABLE));
  return suite;
}

const ROOTS = ['qemu-system-x86', 'qemu-system-arm'];
/**
 * What of the dependency closure is placed: the libraries, the QEMU packages and the
 * firmware. The rest (systemd, passwd, debconf) is install-time machinery QEMU never loads.
 */
const PLACED = /^(lib|zlib1g$|qemu-system-|seabios$|ipxe-qemu)/;

/** Host dpkg architecture to its multiarch library folder. */
const MULTIARCH: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/**
 * Places Debian's QEMU of a suite in the cache (~/.cache/migtest/qemu/<version>) so it runs
 * on this host with its own libraries: the suite's dependency closure is extracted beside
 * it, and bin/qemu-system-<arch> starts the real binary through the suite's own dynamic
 * loader (a newer suite's glibc is newer than the host's) with its own library path and
 * module folder. It is `exec`ed, so the pid the harness records is QEMU's.
 */
export async function fetchQemu(version: string): Promise<QemuBinary[]> {
  const suite = fetchableSuite(version);
  const dest = join(qemuCacheDir(), version);
  const placed = async () => (await listBinaries(true)).filter((b) => b.source === 'cache' && b.path.startsWith(`${dest}/`));
  const have = await placed();
  if (have.length >= ARCHES.length) return have;

  const what = `qemu ${version}`;
  const opts = await aptUpdate(suite, 'deb', what);
  const hostArch = (await execa('dpkg', ['--print-architecture'])).stdout.trim();
  const triplet = MULTIARCH[hostArch];
  if (!triplet) throw new MigtestError(`qemu fetch: this host's architecture ${hostArch} is not one of ${Object.keys(MULTIARCH).join(', ')}`);
  const candidate = (await execa('apt-cache', [...opts, 'show', '--no-all-versions', ROOTS[0]!], { reject: false })).stdout;
  const pkgVersion = /^Version: (\S+)/m.exec(candidate)?.[1];
  // The table above goes stale when a suite moves on (sid to 11.2): say so rather than place another version under this label.
  if (!pkgVersion || !new RegExp(`^(\\d+:)?${version.replace('.', '\\.')}[.+]`).test(pkgVersion))
    throw new MigtestError(`Debian ${suite} now carries qemu ${pkgVersion ?? 'nothing'}, not ${version}: migtest's table of suites needs updating`);

  const deps = await execa('apt-cache', [
    ...opts, 'depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...ROOTS,
  ]);
  // Lines without indentation are packages; <name> is virtual.
  const pkgs = [...new Set(deps.stdout.split('\n').filter((l) => /^[a-z0-9]/.test(l)))].filter((p) => PLACED.test(p)).sort();

  const work = `${dest}.fetch-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'debs'), { recursive: true });
  try {
    progress(`${what}: downloading ${pkgs.length} packages of Debian ${suite} (qemu ${pkgVersion})`);
    const dl = await execa('apt-get', [...opts, '-q', 'download', ...pkgs], { cwd: join(work, 'debs'), reject: false, all: true });
    if (dl.exitCode !== 0) throw new MigtestError(`apt-get download from Debian ${suite} failed:\n${dl.all}`);
    const tree = join(work, 'tree');
    const debs = readdirSync(join(work, 'debs')).filter((f) => f.endsWith('.deb'));
    progress(`${what}: extracting ${debs.length} packages`);
    for (const deb of debs) await execa('dpkg-deb', ['-x', join(work, 'debs', deb), tree]);
    relinkAbsolute(tree, dest);
    rmSync(join(tree, 'usr/share/doc'), { recursive: true, force: true });
    rmSync(join(tree, 'usr/share/man'), { recursive: true, force: true });
    for (const arch of ARCHES) sealModuleDir(join(tree, 'usr/bin', `qemu-system-${arch}`), triplet);
    writeLaunchers(tree, dest, triplet, `QEMU ${pkgVersion} from Debian ${suite}`);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tree, dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const got = await placed();
  for (const arch of ARCHES)
    if (!got.some((b) => b.arch === arch)) {
      const why = (await versionText(join(dest, 'bin', `qemu-system-${arch}`))).why;
      throw new MigtestError(`${what}: placed in ${dest}, but its qemu-system-${arch} does not run: ${why}`);
    }
  progress(`${what}: ${got.map((b) => `${b.arch} ${b.version}`).join(', ')} in ${dest}`);
  return got;
}

/**
 * QEMU looks for a module in QEMU_MODULE_DIR, then in the folder compiled into it, which is
 * the system QEMU's: a module this build lacks (audio-pipewire, ui-opengl) would be loaded
 * from another build and abort it ("Only modules from the same build can be loaded"). The
 * one string naming that folder is overwritten, same length, with a path that does not exist.
 */
export function sealModuleDir(binary: string, triplet: string): void {
  if (!existsSync(binary)) return;
  const from = Buffer.from(`/usr/lib/${triplet}/qemu\0`);
  const to = Buffer.from(`/nonexistent/${'m'.repeat(from.length - 1 - '/nonexistent/'.length)}\0`);
  const bytes = readFileSync(binary);
  const at = bytes.indexOf(from);
  if (at < 0 || bytes.indexOf(from, at + 1) >= 0)
    throw new MigtestError(`${binary}: expected its module folder /usr/lib/${triplet}/qemu exactly once, to keep it from loading the system QEMU's modules`);
  to.copy(bytes, at);
  writeFileSync(binary, bytes);
}

/** The suite's own ELF interpreter, in its multiarch folder (under /usr since usrmerge). */
function loaderIn(tree: string, triplet: string): string {
  for (const dir of [`usr/lib/${triplet}`, `lib/${triplet}`])
    for (const name of ['ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1'])
      if (existsSync(join(tree, dir, name))) return join(dir, name);
  throw new MigtestError(`no dynamic loader (ld-linux) in the extracted libc6 under ${tree}`);
}

/**
 * bin/qemu-system-<arch>: a two-line sh script written with the tree's final paths. It
 * runs QEMU with none of the host's libraries, and QEMU_MODULE_DIR keeps it from loading
 * the system QEMU's modules (another version's are refused, or worse).
 */
function writeLaunchers(tree: string, dest: string, triplet: string, what: string): void {
  const loader = join(dest, loaderIn(tree, triplet));
  const libs = [`lib/${triplet}`, `usr/lib/${triplet}`].filter((d) => existsSync(join(tree, d))).map((d) => join(dest, d));
  for (const arch of ARCHES) {
    const real = join(dest, 'usr/bin', `qemu-system-${arch}`);
    if (!existsSync(join(tree, 'usr/bin', `qemu-system-${arch}`))) continue;
    const script = [
      '#!/bin/sh',
      `# ${what}, written by migtest qemu fetch: run with its own loader and libraries.`,
      `QEMU_MODULE_DIR=${shellQuote(join(dest, 'usr/lib', triplet, 'qemu'))}`,
      'export QEMU_MODULE_DIR',
      `exec ${shellQuote(loader)} --library-path ${shellQuote(libs.join(':'))} ${shellQuote(real)} "$@"`,
      '',
    ].join('\n');
    writeAtomic(join(tree, 'bin', `qemu-system-${arch}`), script, 0o755);
  }
}

/** Absolute symlinks (firmware, the loader) pointed into the tree's final place when their target is in it. */
function relinkAbsolute(tree: string, dest: string): void {
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) {
        const target = readlinkSync(p);
        if (target.startsWith('/') && existsSync(join(tree, target))) {
          rmSync(p);
          symlinkSync(join(dest, target), p);
        }
      }
    }
  };
  walk(tree);
}
