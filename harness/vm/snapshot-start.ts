import { copyFileSync, rmSync } from 'node:fs';
import { DEADLINES } from '../util/deadlines.js';
import { VmStartError } from './errors.js';
import { overlayDisks, type SnapshotCache } from './snapshot.js';
import { fileUri, loadStateFile, stateMigrationDone } from './state-file.js';
import type { StartedVm } from './started.js';

/**
 * Where QEMU has it (9.0+), snapshots are saved and restored with `mapped-ram`: a zero page is
 * not in the file and is never touched on restore, so a restored guest's RAM is resident where
 * a booted one's is, not all of it. Restored by a plain stream, every zero page was faulted in
 * (a transparent huge page zeroed per 2 MiB), and the source then sent its RAM faster than a
 * destination faults it in: on aarch64 the destination resumed ~300 ms after the source
 * completed, against ~60 ms from a booted source (10.0.2). The capability is off again before
 * anyone else migrates the VM. Whether a binary has it decides both the save and the restore
 * (the key holds the version).
 */
async function hasMappedRam(vm: StartedVm): Promise<boolean> {
  const caps = await vm.qmp.execute<Array<{ capability: string }>>('query-migrate-capabilities');
  return caps.some((c) => c.capability === 'mapped-ram');
}

function setMappedRam(vm: StartedVm, on: boolean): Promise<unknown> {
  return vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'mapped-ram', state: on }] });
}

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
    const mapped = await hasMappedRam(vm);
    await loadStateFile(vm, file, mapped ? { capabilities: { 'mapped-ram': true } } : {});
    if (mapped) await setMappedRam(vm, false);
    await vm.qmp.execute('cont');
    vm.startMode = 'restored';
    await vm.guestAnswers({ timeoutMs: DEADLINES.restore });
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
  const disks = overlayDisks(vm.spec).map((d) => ({ id: d.id, file: d.file, tmp: cache.temporary(key, d.id) }));
  try {
    const mapped = await hasMappedRam(vm);
    if (mapped) await setMappedRam(vm, true);
    await vm.clock.time('migrating', async () => {
      await vm.qmp.execute('migrate', { uri: fileUri(vm.qemuVersion, tmp, 'out') });
      await stateMigrationDone(vm, `saving a snapshot to ${tmp}`, { timeoutMs: DEADLINES.snapshotSave });
    });
    // The guest is stopped and its disks flushed: an overlay's file now holds what its RAM
    // expects on disk (a user's image writes to its root while it boots).
    for (const d of disks) copyFileSync(d.file, d.tmp);
    if (mapped) await setMappedRam(vm, false);
    await vm.qmp.execute('cont');
    await vm.waitRunState('running');
    cache.commit(tmp, key, disks);
    vm.startMode = 'booted+saved';
  } catch (e) {
    for (const f of [tmp, ...disks.map((d) => d.tmp)]) rmSync(f, { force: true });
    throw e;
  }
}
