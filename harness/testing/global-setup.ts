import { resolveAccel, type AccelChoice } from '../host/accel.js';
import { formatReaped, reapOrphans, takeUnreported } from '../host/registry.js';
import { findBinary } from '../qemu/catalog.js';
import { runDir } from '../report/artifacts.js';
import { testArches } from './arches.js';

/**
 * Before any test: remove what a killed runner left (and say so), fix the run's artifacts
 * directory so every worker writes into the same one, and decide the accelerator once.
 */
export default async function setup(): Promise<void> {
  reapOrphans('reaper');
  for (const r of takeUnreported()) process.stderr.write(`[migtest] cleaned up: ${formatReaped(r)}\n`);
  runDir();
  for (const arch of testArches()) {
    const bin = await findBinary(arch).catch(() => undefined);
    if (bin) await resolveAccel((process.env.MIGTEST_ACCEL ?? 'auto') as AccelChoice, bin);
  }
}
