import { ConfigError } from '../util/errors.js';
import { buildImage, findImage, type GuestImage } from './build.js';
import type { Arch } from './recipe.js';

/**
 * The image a VM boots when the test names none: the user's own files if
 * MIGTEST_KERNEL/MIGTEST_INITRD/MIGTEST_DISK are set, else the built-in default image
 * (built on first use, cached by recipe hash).
 */
export async function defaultImage(arch: Arch): Promise<Pick<GuestImage, 'kernel' | 'initrd' | 'rootDisk' | 'rootFormat'>> {
  const { MIGTEST_KERNEL: kernel, MIGTEST_INITRD: initrd, MIGTEST_DISK: disk } = process.env;
  if (kernel || initrd || disk) {
    if (!kernel || !initrd || !disk)
      throw new ConfigError('MIGTEST_KERNEL/MIGTEST_INITRD/MIGTEST_DISK', 'set all three or none', 'paths to a kernel, an initrd and a root disk');
    return { kernel, initrd, rootDisk: disk, rootFormat: disk.endsWith('.qcow2') ? 'qcow2' : 'raw' };
  }
  return findImage(arch) ?? (await buildImage(arch));
}

export type { GuestImage };
