import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { closeSync, copyFileSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, MigtestError } from '../util/errors.js';
import { IMAGE_FORMS } from '../util/arch.js';
import type { Host } from '../host/host.js';
import { localHost } from '../host/local.js';

/** What qemu-img says a user's disk image is: its format (qcow2 or raw) and virtual size. */
export async function userDiskFormat(file: string, field = '--image'): Promise<{ format: 'qcow2' | 'raw'; virtualSize: number }> {
  const r = await execa('qemu-img', ['info', '--output=json', '--force-share', file], { reject: false });
  if (r.code === 'ENOENT') throw new ConfigError(field, `'${file}': qemu-img is missing, needed to read it (install Debian's qemu-utils)`, IMAGE_FORMS);
  if (r.exitCode !== 0) throw new ConfigError(field, `'${file}' is not a disk image qemu-img can read: ${String(r.stderr).trim().split('\n')[0]}`, IMAGE_FORMS);
  const info = JSON.parse(String(r.stdout)) as { format?: string; 'virtual-size'?: number };
  if (info.format !== 'qcow2' && info.format !== 'raw') throw new ConfigError(field, `'${file}' is a ${info.format} image`, IMAGE_FORMS);
  // Any file reads as raw: one without the MBR's (or GPT's protective MBR's) signature boots nothing.
  if (info.format === 'raw' && !hasBootSignature(file)) throw new ConfigError(field, `'${file}' is raw with no partition table: not a bootable disk`, IMAGE_FORMS);
  return { format: info.format, virtualSize: info['virtual-size'] ?? 0 };
}

function hasBootSignature(file: string): boolean {
  const b = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, b, 0, 2, 510) === 2 && b[0] === 0x55 && b[1] === 0xaa;
  } finally {
    closeSync(fd);
  }
}

/** The overlay each artifacts directory's newest source boots: a destination without its own joins it. */
const newestOverlay = new Map<string, string>();

/**
 * A fresh overlay of a user's disk image for one source (and the destinations it migrates to,
 * which share it as shared storage): `root-overlay-N.qcow2` in `dir`, beside
 * `root-overlay-N.json` saying what it is of (a replay script, migtest repro, makes its own).
 * Each source gets its own, so a second pair in a scenario (a known flake's second attempt)
 * never boots what the first guest wrote. The user's file is its read-only backing: never written.
 */
export async function freshUserOverlay(file: string, format: 'qcow2' | 'raw', dir: string, opts: { source?: boolean } = {}): Promise<string> {
  let overlay = '';
  // Reserved by an exclusive create, then replaced whole: two sources never get one name.
  for (let n = 1; !overlay; n++) {
    const candidate = join(dir, `root-overlay-${n}.qcow2`);
    try {
      closeSync(openSync(candidate, 'wx'));
      overlay = candidate;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const record = overlay.replace(/\.qcow2$/, '.json');
  try {
    writeFileSync(record, `${JSON.stringify({ base: file, format }, null, 2)}\n`);
    renameSync(await newOverlay(file, format, overlay), overlay);
  } catch (e) {
    for (const f of [overlay, record]) rmSync(f, { force: true });
    throw e;
  }
  // A destination started by hand joins the newest source's (one that made its own is no source).
  if (opts.source !== false) newestOverlay.set(dir, overlay);
  return overlay;
}

/** An overlay of `base` at `path`, both on `host`: a pair's side across two hosts has its own. */
export async function overlayOn(host: Host, base: string, format: 'qcow2' | 'raw', path: string): Promise<string> {
  const r = await host.exec(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', format, '-b', base, path]);
  if (r.code !== 0) throw new MigtestError(`host ${host.name}: could not make an overlay of ${base} at ${path}: ${r.stderr.trim()}`);
  return path;
}

/** An empty qcow2 overlay of `file` beside `near`, under a temporary name it returns. */
async function newOverlay(file: string, format: 'qcow2' | 'raw', near: string): Promise<string> {
  const tmp = `${near}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    return await overlayOn(localHost, file, format, tmp);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Empties an overlay again, in place: the same file (inode), so a destination that already
 * opened it (inactive, as -incoming opens its disks) reads the new contents when it takes over.
 */
export async function emptyUserOverlay(overlay: string, file: string, format: 'qcow2' | 'raw'): Promise<void> {
  const tmp = await newOverlay(file, format, overlay);
  try {
    copyFileSync(tmp, overlay);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The overlay the newest source of `dir` boots, if one was made there. */
export const newestUserOverlay = (dir: string): string | undefined => newestOverlay.get(dir);
