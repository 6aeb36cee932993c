import { execa } from 'execa';
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { listBinaries, qemuCacheDir, type QemuBinary } from './catalog.js';

/** Debian suites that carry a QEMU version we can place beside the default. */
export const FETCHABLE: Record<string, string> = { '7.2': 'bookworm' };

const PACKAGES = ['qemu-system-x86', 'qemu-system-arm', 'qemu-system-common', 'qemu-system-data', 'seabios'];

/**
 * Places Debian's QEMU of another suite in a versioned cache directory (apt-get download +
 * dpkg-deb -x). Packages are chosen by suite, not exact version: qemu-system-data carries no
 * binNMU suffix. Absolute firmware symlinks are pointed into the extracted tree.
 */
export async function fetchQemu(version: string): Promise<QemuBinary[]> {
  const suite = FETCHABLE[version];
  if (!suite) throw new ConfigError('qemu fetch version', `'${version}' cannot be fetched`, Object.keys(FETCHABLE));
  const dest = join(qemuCacheDir(), version);
  const have = (await listBinaries(true)).filter((b) => b.source === 'cache' && b.version.startsWith(`${version}.`));
  if (have.length >= 2) return have;
  const work = `${dest}.fetch-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'debs'), { recursive: true });
  progress(`qemu ${version}: apt-get download from ${suite}`);
  const dl = await execa('apt-get', ['download', ...PACKAGES.map((p) => `${p}/${suite}`)], {
    cwd: join(work, 'debs'),
    reject: false,
    all: true,
  });
  if (dl.exitCode !== 0)
    throw new MigtestError(
      `apt-get download failed (is '${suite}' in the apt sources, and was apt-get update run?):\n${dl.all}`,
    );
  const tree = join(work, 'tree');
  for (const deb of readdirSync(join(work, 'debs'))) {
    progress(`qemu ${version}: extracting ${deb}`);
    await execa('dpkg-deb', ['-x', join(work, 'debs', deb), tree]);
  }
  relinkFirmware(tree);
  rmSync(dest, { recursive: true, force: true });
  renameSync(tree, dest);
  rmSync(work, { recursive: true, force: true });
  const got = (await listBinaries(true)).filter((b) => b.source === 'cache' && b.version.startsWith(`${version}.`));
  if (!got.length) throw new MigtestError(`fetched QEMU ${version} into ${dest} but found no runnable binary there`);
  progress(`qemu ${version}: ${got.map((b) => `${b.arch} ${b.version}`).join(', ')} in ${dest}`);
  return got;
}

function relinkFirmware(tree: string): void {
  for (const sub of ['usr/share/qemu', 'usr/share/seabios']) {
    const dir = join(tree, sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (!lstatSync(p).isSymbolicLink()) continue;
      const target = readlinkSync(p);
      if (target.startsWith('/') && existsSync(join(tree, target))) {
        rmSync(p);
        symlinkSync(join(tree, target), p);
      }
    }
  }
}
