import { blockDevicePath } from '../vm/argv.js';
import type { DiskSpec } from '../vm/spec.js';
import type { StartedVm } from '../vm/started.js';
import { MigtestError } from '../util/errors.js';

export class DiskFaultError extends MigtestError {}

/**
 * blkdebug rules: healthy until the first flush of the disk, then every write fails with EIO.
 * The flush is the harness's trigger (flushDisk), so the error comes while fio has a full queue.
 * Writes only: a flush or read error would stop the VM for another reason.
 */
export function failWritesAfterFlush(errno = 5): NonNullable<DiskSpec['blkdebug']> {
  return {
    'set-state.0.event': 'flush_to_disk',
    'set-state.0.state': 1,
    'set-state.0.new_state': 2,
    'inject-error.0.event': 'write_aio',
    'inject-error.0.state': 2,
    'inject-error.0.iotype': 'write',
    'inject-error.0.errno': errno,
  };
}

async function qemuIo(vm: StartedVm, disk: Pick<DiskSpec, 'id' | 'bus'>, command: string): Promise<void> {
  // HMP qemu-io on the device's own BlockBackend: no second writer, no permission conflict.
  const out = await vm.qmp.hmp(`qemu-io -d ${blockDevicePath(disk)} "${command}"`);
  if (out.trim()) throw new DiskFaultError(`${vm.name}: qemu-io "${command}" on ${disk.id}: ${out.trim()}`);
}

/** A flush through the device's backend: fires blkdebug's flush_to_disk event. */
export function flushDisk(vm: StartedVm, disk: Pick<DiskSpec, 'id' | 'bus'>): Promise<void> {
  return qemuIo(vm, disk, 'flush');
}

/**
 * A lost write, made real: the block the guest wrote at `offset` is zeroed behind its back,
 * so it reads as it did before the write (the mutation the I/O check must catch).
 */
export function loseWrite(vm: StartedVm, disk: Pick<DiskSpec, 'id' | 'bus'>, offset: number, length = 4096): Promise<void> {
  return qemuIo(vm, disk, `write -z ${offset} ${length}`);
}
