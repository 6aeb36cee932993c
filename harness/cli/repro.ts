import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findBinary, QEMU_SPEC_FORMS } from '../qemu/catalog.js';
import { reproPlan, reproScript, type ReplayOn } from '../report/repro.js';
import { parseArch } from '../util/arch.js';
import { ConfigError } from '../util/errors.js';
import { checkWritable } from './run.js';

export interface ReproOptions {
  out?: string;
  qemu?: string;
  srcQemu?: string;
  dstQemu?: string;
  /** A folder with the guest image to boot instead (vmlinuz, initrd, root.qcow2, as `images build` makes them). */
  image?: string;
}

/** The run's arch, read from the source's binary name in its argv. */
function archOf(dir: string): string {
  const argv = join(dir, 'src.argv.json');
  const m = existsSync(argv) ? /qemu-system-(\w+)/.exec(readFileSync(argv, 'utf8')) : null;
  if (!m) throw new ConfigError('repro', `cannot tell the arch of '${dir}' from src.argv.json`, ["a scenario's artifacts directory as migtest wrote it"]);
  return m[1]!;
}

/** `migtest repro DIR`: writes the replay script; returns what to tell the user. */
export async function reproCommand(dir: string, opts: ReproOptions = {}): Promise<string> {
  // An empty value (--qemu "") is a mistake, never read as "the run's own".
  for (const [flag, value] of [['--out', opts.out], ['--qemu', opts.qemu], ['--src-qemu', opts.srcQemu], ['--dst-qemu', opts.dstQemu], ['--image', opts.image]] as const)
    if (value !== undefined && !value.trim()) throw new ConfigError(flag, 'is empty', flag === '--out' ? 'a file path (its folder must exist)' : flag === '--image' ? 'a guest image folder (vmlinuz, initrd.img, root.qcow2)' : QEMU_SPEC_FORMS);
  const full = resolve(dir);
  if (!existsSync(full) || !statSync(full).isDirectory()) throw new ConfigError('repro', `'${dir}' is not a directory`, ["a scenario's artifacts directory (the path a failure message names)"]);
  const out = resolve(opts.out ?? join(full, 'repro.py'));
  checkWritable(out, '--out');
  if (opts.qemu && (opts.srcQemu || opts.dstQemu)) throw new ConfigError('--qemu/--src-qemu/--dst-qemu', '--qemu sets both sides: give it alone, or the per-side options', QEMU_SPEC_FORMS);
  const on: ReplayOn = {};
  const [srcSpec, dstSpec] = [opts.srcQemu ?? opts.qemu, opts.dstQemu ?? opts.qemu];
  if (srcSpec || dstSpec) {
    const arch = parseArch(archOf(full), 'the run\'s arch');
    on.qemu = { src: srcSpec ? await findBinary(arch, srcSpec) : undefined, dst: dstSpec ? await findBinary(arch, dstSpec) : undefined };
  }
  if (opts.image) {
    const img = resolve(opts.image);
    const files = { kernel: join(img, 'vmlinuz'), initrd: join(img, 'initrd.img'), rootDisk: join(img, 'root.qcow2') };
    for (const [k, f] of Object.entries(files)) if (!existsSync(f)) throw new ConfigError('--image', `'${opts.image}' has no ${f.split('/').at(-1)} (the ${k})`, 'a guest image folder as `migtest images build` makes it (vmlinuz, initrd.img, root.qcow2)');
    on.image = files;
  }
  const plan = reproPlan(full, undefined, on);
  writeFileSync(out, reproScript(plan));
  chmodSync(out, 0o755);
  return [
    `wrote ${out}: ${plan.steps.length} QMP commands over ${Object.keys(plan.sides).join(' and ')}`,
    ...plan.notes.map((n) => `note: ${n}`),
    `run it: python3 ${out} [--keep] [--timeout SECONDS]`,
  ].join('\n');
}
