import type { FioOptions } from '../guest/fio.js';
import { deviceWrites } from './virtio-queue.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import type { VmBuilder } from '../vm/builder.js';
import type { DiskSpec } from '../vm/spec.js';
import type { StartedVm } from '../vm/started.js';

/**
 * The data disk the I/O suites write to, next to the read-only root: O_DIRECT and native AIO
 * on the host too, so nothing sits in a host page cache between the two QEMUs sharing it.
 */
export function dataDisk(file: string, more: Partial<DiskSpec> = {}): DiskSpec {
  const format = file.endsWith('.raw') ? 'raw' : 'qcow2';
  return { id: 'data', file, format, cache: 'none', aio: 'native', serial: 'migtest-data', ...more };
}

/** Guest device of the data disk: the second virtio-blk disk, or the only SCSI disk. */
export const guestDevice = (d: Pick<DiskSpec, 'bus'>) => (d.bus === 'virtio-scsi' ? '/dev/sda' : '/dev/vdb');

/**
 * Writes only, 200 per second: fio keeps its 32-deep queue full, so requests are always in
 * flight in QEMU (the throttle holds them), and 8 MiB takes about 10 s, longer than a
 * migration under TCG. Reads (the verify pass) are not slowed.
 */
export const WRITE_THROTTLE = 'throttle-group,id=tg0,x-iops-write=200';

export function throttledDataDisk(b: VmBuilder, disk: DiskSpec): VmBuilder {
  return b.withObject(WRITE_THROTTLE).withDisk({ ...disk, throttleGroup: 'tg0' });
}

export const fioOn = (disk: DiskSpec): FioOptions => ({ device: guestDevice(disk), sizeMiB: 8, iodepth: 32 });

/** Waits until the device has completed n writes: fio is under way. */
export async function waitForWrites(vm: StartedVm, disk: Pick<DiskSpec, 'id' | 'bus'>, n: number, opts: Wait = {}): Promise<void> {
  await pollUntil(`${vm.name}: ${n} writes completed by disk ${disk.id}`, deadline(opts, 'diskWrites'), async () => {
    const writes = await deviceWrites(vm, disk);
    return { done: writes >= n, state: { writes } };
  }, 50);
}
