import { hasTransport } from '../qemu/transports.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { pollUntil } from '../util/time.js';
import type { StartedVm } from './started.js';

/** A migration URI for a file: `file:` since 8.2; an older QEMU writes and reads it through cat. */
export const fileUri = (version: string, file: string, dir: 'out' | 'in') =>
  hasTransport('file', version) ? `file:${file}` : `exec:cat ${dir === 'out' ? '>' : '<'} ${shellQuote(file)}`;

/** What reading a state file needs: the capabilities it was written with (mapped-ram, multifd) and their parameters. */
export interface StateFileSettings {
  capabilities?: Record<string, boolean>;
  parameters?: Record<string, unknown>;
}

/**
 * Polls query-migrate until the VM's own migration (a save or a load, no events needed)
 * completed; failed throws with QEMU's error-desc, or its last stderr line.
 */
export async function stateMigrationDone(vm: StartedVm, what: string, opts: Wait = {}): Promise<void> {
  await pollUntil(`${vm.name}: ${what}`, deadline(opts, 'status'), async () => {
    const i = await vm.queryMigrate();
    if (i.status === 'failed') throw new MigtestError(`${vm.name}: ${what} failed: ${i['error-desc'] ?? vm.stderrErrors().at(-1)}`);
    return { done: i.status === 'completed', state: i.status };
  }, 20);
}

/**
 * Loads a guest's state from a file into a VM started with -incoming defer: migrate-incoming,
 * then waits until QEMU has loaded it (timed as migrating on the VM's clock). Whether it then
 * runs is the stream's and -S's say.
 */
export async function loadStateFile(vm: StartedVm, file: string, opts: Wait & StateFileSettings = {}): Promise<void> {
  // A file written with mapped-ram (or multifd) is read only with the same capabilities.
  const caps = Object.entries(opts.capabilities ?? {}).map(([capability, state]) => ({ capability, state }));
  if (caps.length) await vm.qmp.execute('migrate-set-capabilities', { capabilities: caps });
  if (opts.parameters && Object.keys(opts.parameters).length) await vm.qmp.execute('migrate-set-parameters', opts.parameters);
  await vm.clock.time('migrating', async () => {
    await vm.qmp.execute('migrate-incoming', { uri: fileUri(vm.qemuVersion, file, 'in') });
    await stateMigrationDone(vm, `loading ${file}`, opts);
  });
}
