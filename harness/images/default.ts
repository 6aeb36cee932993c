import { runConfig } from '../util/run-config.js';
import { buildImage, findImage, type GuestImage } from './build.js';
import { userDiskFormat } from './user.js';
import type { Arch } from '../util/arch.js';

const userFormats = new Map<string, Promise<'qcow2' | 'raw'>>();

/**
 * The image a VM boots when the test names none: the user's own files if
 * MIGTEST_KERNEL/MIGTEST_INITRD/MIGTEST_DISK are set, else the run's built-in image
 * (MIGTEST_IMAGE, default `default`; built on first use, cached by recipe hash).
 */
export async function defaultImage(arch: Arch): Promise<Pick<GuestImage, 'kernel' | 'initrd' | 'rootDisk' | 'rootFormat' | 'boot' | 'user'>> {
  const file = runConfig().imageFile;
  if (file) {
    // The user's disk, booted by the firmware: read once per process.
    userFormats.set(file, userFormats.get(file) ?? userDiskFormat(file, 'MIGTEST_IMAGE').then((i) => i.format));
    return { kernel: '', initrd: '', rootDisk: file, rootFormat: await userFormats.get(file)!, boot: 'firmware', user: true };
  }
  const own = runConfig().image;
  if (own) return { kernel: own.kernel, initrd: own.initrd, rootDisk: own.disk, rootFormat: own.disk.endsWith('.qcow2') ? 'qcow2' : 'raw' };
  const name = runConfig().imageProfile;
  return findImage(arch, name) ?? (await buildImage(arch, { name }));
}

export type { GuestImage };
