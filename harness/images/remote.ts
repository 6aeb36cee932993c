import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Host } from '../host/host.js';
import { MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import type { GuestImage } from './build.js';

const hashes = new Map<string, Promise<string>>();

/** SHA-256 of a local file, once per process. */
function sha256(file: string): Promise<string> {
  let p = hashes.get(file);
  if (!p)
    hashes.set(
      file,
      (p = new Promise((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
      })),
    );
  return p;
}

/**
 * A local file on another host, as `folder`/<its name>: copied when missing, or when the
 * copy's SHA-256 (computed there) differs.
 */
export async function placeFile(host: Host, local: string, folder: string): Promise<string> {
  const remote = join(folder, basename(local));
  const want = await sha256(local);
  const have = await host.exec(['sha256sum', '--', remote]);
  if (have.code === 0 && have.stdout.startsWith(want)) return remote;
  const mk = await host.exec(['mkdir', '-p', '--', folder]);
  if (mk.code !== 0) throw new MigtestError(`host ${host.name}: cannot make ${folder}: ${mk.stderr.trim()}`);
  const t0 = Date.now();
  await host.putFile(local, `${remote}.part-${process.pid}`);
  await host.exec(['mv', '-f', '--', `${remote}.part-${process.pid}`, remote]);
  progress(`image: copied ${basename(local)} (${(statSync(local).size / 2 ** 20).toFixed(0)} MiB) to host ${host.name} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return remote;
}

/** What placeFileByContent placed, per host name (a run connects per case): checked there once per process (a large image's SHA-256 takes seconds). */
const placed = new Map<string, Promise<string>>();

/** A local file on another host, under `dir`/<its SHA-256's first 16 hex digits>/ (one copy per content). */
export async function placeFileByContent(host: Host, local: string, dir: string): Promise<string> {
  const sum = await sha256(local);
  const key = `${host.name}\0${(host as { target?: { address?: string } }).target?.address ?? ''}\0${dir}\0${local}\0${sum}`;
  let p = placed.get(key);
  if (!p) {
    placed.set(key, (p = placeFile(host, local, join(dir, sum.slice(0, 16)))));
    // A failed copy is tried again by the next case.
    p.catch(() => placed.get(key) === p && placed.delete(key));
  }
  return p;
}

/**
 * The image's files on another host, under `dir`/<the image's cache folder, named by its
 * recipe hash>, each placed by placeFile.
 */
export async function placeImage<T extends Pick<GuestImage, 'kernel' | 'rootDisk'> & { initrd?: string }>(host: Host, image: T, dir: string): Promise<T> {
  const folder = join(dir, basename(dirname(image.rootDisk)));
  const place = (local: string) => placeFile(host, local, folder);
  return { ...image, kernel: await place(image.kernel), initrd: image.initrd && (await place(image.initrd)), rootDisk: await place(image.rootDisk) };
}
