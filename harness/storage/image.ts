import { execChecked } from '../host/command.js';
import type { Host } from '../host/host.js';
import { localHost } from '../host/local.js';
import { MigtestError } from '../util/errors.js';

export class ImageError extends MigtestError {}

/** qemu-img and qemu-io run on the host whose QEMU opens the image (paths are that host's). */
const run = (host: Host, argv: string[]) => execChecked(host, argv, ImageError);

/** A fresh image; with `backing`, a qcow2 overlay on it (the shared-backing layout of a `top` mirror). */
export async function createImage(path: string, opts: { format: 'qcow2' | 'raw'; sizeMiB?: number; backing?: string; host?: Host }): Promise<string> {
  const args = ['qemu-img', 'create', '-q', '-f', opts.format];
  if (opts.backing) args.push('-b', opts.backing, '-F', 'qcow2');
  args.push(path);
  if (!opts.backing) args.push(`${opts.sizeMiB ?? 64}M`);
  await run(opts.host ?? localHost, args);
  return path;
}

/** Fills a byte range of an image (not in use) with one byte value, through qemu-io. */
export async function fillPattern(path: string, format: 'qcow2' | 'raw', range: { offsetMiB: number; lengthMiB: number; byte: number }, host: Host = localHost): Promise<void> {
  await run(host, ['qemu-io', '-f', format, '-c', `write -P 0x${range.byte.toString(16)} ${range.offsetMiB}M ${range.lengthMiB}M`, path]);
}

/** Bytes allocated in the image file itself (qemu-img info -U: the image may be open). */
export async function allocatedBytes(path: string, host: Host = localHost): Promise<number> {
  const info = JSON.parse(await run(host, ['qemu-img', 'info', '-U', '--output=json', path])) as { 'actual-size': number };
  return info['actual-size'];
}
