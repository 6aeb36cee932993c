import { runChecked } from '../host/command.js';
import { MigtestError } from '../util/errors.js';

export class ImageError extends MigtestError {}

const run = (file: string, args: string[]) => runChecked(file, args, { error: ImageError });

/** A fresh image; with `backing`, a qcow2 overlay on it (the shared-backing layout of a `top` mirror). */
export async function createImage(path: string, opts: { format: 'qcow2' | 'raw'; sizeMiB?: number; backing?: string }): Promise<string> {
  const args = ['create', '-q', '-f', opts.format];
  if (opts.backing) args.push('-b', opts.backing, '-F', 'qcow2');
  args.push(path);
  if (!opts.backing) args.push(`${opts.sizeMiB ?? 64}M`);
  await run('qemu-img', args);
  return path;
}

/** Fills a byte range of an image (not in use) with one byte value, through qemu-io. */
export async function fillPattern(path: string, format: 'qcow2' | 'raw', offsetMiB: number, lengthMiB: number, byte: number): Promise<void> {
  await run('qemu-io', ['-f', format, '-c', `write -P 0x${byte.toString(16)} ${offsetMiB}M ${lengthMiB}M`, path]);
}

/** Bytes allocated in the image file itself (qemu-img info -U: the image may be open). */
export async function allocatedBytes(path: string): Promise<number> {
  const info = JSON.parse(await run('qemu-img', ['info', '-U', '--output=json', path])) as { 'actual-size': number };
  return info['actual-size'];
}
