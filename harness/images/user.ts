import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { closeSync, existsSync, linkSync, openSync, readSync, rmSync } from 'node:fs';
import { ConfigError, MigtestError } from '../util/errors.js';
import { IMAGE_FORMS } from '../util/arch.js';

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

/**
 * The disk a pair boots from a user's image: a qcow2 overlay of it, shared by the pair's
 * source and destination (as a migration with shared storage needs), made once in the
 * case's artifacts directory. The user's file is its read-only backing: never written.
 */
export async function userOverlay(file: string, format: 'qcow2' | 'raw', overlay: string): Promise<string> {
  if (existsSync(overlay)) return overlay;
  // Made under a temporary name, then linked into place: a side that finds it finds it whole,
  // and an overlay already there (the other side's, maybe open) is never overwritten.
  // Unique per call: a pair's two sides start at once, in one process.
  const tmp = `${overlay}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const r = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', format, '-b', file, tmp], { reject: false });
  if (r.exitCode !== 0) throw new MigtestError(`could not make an overlay of ${file} at ${overlay}: ${String(r.stderr).trim()}`);
  try {
    linkSync(tmp, overlay);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  return overlay;
}
