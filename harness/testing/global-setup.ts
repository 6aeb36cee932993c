import { runAccel } from '../qemu/accel.js';
import { reapAtStart } from './reaper.js';
import { findBinary } from '../qemu/catalog.js';
import { runDir } from '../report/artifacts.js';
import { testArches } from './arches.js';
import { runConfig } from '../util/run-config.js';

/**
 * Before any test: remove what a killed runner left (and say so), fix the run's artifacts
 * directory so every worker writes into the same one, and decide the accelerator once.
 */
export default async function setup(): Promise<void> {
  if (runConfig().listOnly) return;
  for (const line of await reapAtStart()) process.stderr.write(`[migtest] cleaned up: ${line}\n`);
  runDir();
  for (const arch of testArches()) {
    const bin = await findBinary(arch).catch(() => undefined);
    if (bin) await runAccel(bin);
  }
}
