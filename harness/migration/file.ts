import type { MigrationInfo, QmpEvent } from '../qmp/types.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import type { StartedVm } from '../vm/started.js';
import { fileUri } from '../vm/state-file.js';
import { applySettings, type MigrationSettings } from './apply.js';
import { MigrationSampler, TERMINAL, type MigrationSample } from './stats.js';

export interface FileMigration {
  file: string;
  /** `migrate` sent, the source active (its start done: for a background snapshot, RAM as of here), the end. */
  sentAt: number;
  activeAt: number;
  completedAt: number;
  info: MigrationInfo;
  series: MigrationSample[];
}

/**
 * A migration with no destination QEMU: the stream goes to a file (a background snapshot,
 * a save). Settings are applied and read back; `onActive` runs once the source is active.
 */
export async function migrateToFile(
  vm: StartedVm,
  file: string,
  settings: MigrationSettings & Wait & { onActive?: () => Promise<void> } = {},
): Promise<FileMigration> {
  await applySettings(vm, settings);
  const since = vm.qmp.mark();
  const sentAt = Date.now();
  // Migrating from `migrate` until the end is seen (or the wait for it gave up).
  const span = vm.clock.begin('migrating', sentAt);
  await vm.qmp.execute('migrate', { uri: fileUri(vm.qemuVersion, file, 'out') }).catch((e: unknown) => {
    span.end();
    throw e;
  });
  const sampler = new MigrationSampler(vm, 100);
  try {
    const status = (e: QmpEvent) => String(e.data?.status);
    const active = await vm.qmp.waitForEvent('MIGRATION', (e) => status(e) === 'active' || TERMINAL.has(status(e)), { since });
    await settings.onActive?.();
    const end = await vm.qmp.waitForEvent('MIGRATION', (e) => TERMINAL.has(status(e)), { since, timeoutMs: deadline(settings, 'migration') });
    span.end(end.receivedAt);
    const info = await vm.queryMigrate();
    if (status(end) !== 'completed') throw new MigtestError(`${vm.name}: migration to ${file} ended '${status(end)}': ${info['error-desc'] ?? '(no error-desc)'}`, { info });
    // The caller sees the run state the source settles in, not finish-migrate.
    await vm.statusAfterMigration(settings);
    return { file, sentAt, activeAt: active.receivedAt, completedAt: end.receivedAt, info, series: await sampler.stop() };
  } finally {
    if (span.to === undefined) span.end();
    await sampler.stop();
  }
}
