import { rmSync } from 'node:fs';
import { DEADLINES } from '../util/deadlines.js';
import { VmStartError } from './errors.js';
import type { SnapshotCache } from './snapshot.js';
import { fileUri, loadStateFile, stateMigrationDone } from './state-file.js';
import type { StartedVm } from './started.js';

/** Snapshot start: restore from `file`, or (after the first ready) save to the cache under `key`. */
export type SnapshotPlan = { restore: string } | { save: { key: string; cache: SnapshotCache } };

/** A snapshot could not be restored (the caller boots instead). */
export class SnapshotRestoreError extends VmStartError {}

/**
 * Loads a saved guest and runs it, then requires it to be as good as a booted one before
 * anyone gets it: beating, and its agent answering (a snapshot saved at a bad moment can
 * restore a virtio-serial that never talks again). A failure is a SnapshotRestoreError.
 */
export async function restoreStartSnapshot(vm: StartedVm, file: string): Promise<void> {
  try {
    await loadStateFile(vm, file);
    await vm.qmp.execute('cont');
    vm.startMode = 'restored';
    await vm.heartbeat?.waitForBeats(3, { timeoutMs: DEADLINES.restore });
    if (vm.spec.agent) await (await vm.agent({ timeoutMs: DEADLINES.restore })).ping();
  } catch (e) {
    await vm.dropAgent().catch(() => undefined);
    throw new SnapshotRestoreError(`${vm.name}: restoring ${file}: ${(e as Error).message}`, { artifacts: vm.artifacts.path });
  }
}

/**
 * Saves the ready guest for later starts of the same configuration: a migration to a file,
 * then `cont`, so the VM runs on as if nothing happened. Migration parameters are left at
 * QEMU's defaults (a scenario may measure them); the events capability stays off, so no
 * MIGRATION event of the save reaches a scenario's event list.
 */
export async function saveStartSnapshot(vm: StartedVm, key: string, cache: SnapshotCache): Promise<void> {
  const tmp = cache.temporary(key);
  try {
    await vm.clock.time('migrating', async () => {
      await vm.qmp.execute('migrate', { uri: fileUri(vm.qemuVersion, tmp, 'out') });
      await stateMigrationDone(vm, `saving a snapshot to ${tmp}`, { timeoutMs: DEADLINES.snapshotSave });
    });
    await vm.qmp.execute('cont');
    await vm.waitRunState('running');
    cache.commit(tmp, key);
    vm.startMode = 'booted+saved';
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
