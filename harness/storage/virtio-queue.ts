import { sleep } from '../util/time.js';
import { blockDevicePath } from '../vm/argv.js';
import type { DiskSpec } from '../vm/spec.js';
import type { StartedVm } from '../vm/started.js';

/** x-query-virtio-queue-status (7.2+), the fields that tell how many requests the device holds. */
export interface QueueStatus {
  'last-avail-idx': number;
  'used-idx': number;
  /** Requests popped from the ring and not completed: in flight in QEMU, or parked after an error. */
  inuse: number;
}

/** Where a disk's requests queue: virtio-blk's own queue 0, or the first request queue (2) of its virtio-scsi controller. */
export function diskQueue(disk: Pick<DiskSpec, 'id' | 'bus'>): { path: string; queue: number } {
  return disk.bus === 'virtio-scsi'
    ? { path: '/machine/peripheral/scsi0/virtio-backend', queue: 2 }
    : { path: `/machine/peripheral/${blockDevicePath(disk)}`, queue: 0 };
}

export async function queueStatus(vm: StartedVm, q: { path: string; queue: number }): Promise<QueueStatus> {
  return vm.qmp.execute<QueueStatus>('x-query-virtio-queue-status', q);
}

/**
 * Writes a disk's device completed (query-blockstats wr_operations; failed ones are not counted).
 * blockstats names the device by its id when it has one (scsi-hd), else by its full path (virtio-blk's backend).
 */
export async function deviceWrites(vm: StartedVm, disk: Pick<DiskSpec, 'id' | 'bus'>): Promise<number> {
  const path = blockDevicePath(disk);
  const all = await vm.qmp.execute<Array<{ qdev?: string; stats: { wr_operations: number } }>>('query-blockstats');
  const s = all.find((b) => b.qdev === path || b.qdev === `/machine/peripheral/${path}`);
  return s?.stats.wr_operations ?? 0;
}

/** Samples kept for the window before the stop: 10 at 20 ms, about the last 200 ms it ran. */
const RECENT = 10;

/**
 * Samples a queue's in-flight count while the VM runs, to tell how many requests the device
 * held when it stopped. stop() returns the last sample taken while it still ran, and the
 * most of the last few: a loaded host can let the guest fall behind the throttle for a
 * sample's moment, and one empty sample does not mean the queue was idle at the stop.
 */
export class InflightSampler {
  private last: number | undefined;
  private max = 0;
  private readonly recent: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly vm: StartedVm,
    private readonly q: { path: string; queue: number },
    intervalMs = 20,
  ) {
    this.loop = (async () => {
      while (this.running) {
        // Queue first, then status: a sample counts only if the VM still ran after it was taken.
        const s = await queueStatus(this.vm, this.q).catch(() => undefined);
        const st = await this.vm.status().catch(() => undefined);
        if (!s || !st?.running) break;
        this.last = s.inuse;
        this.max = Math.max(this.max, s.inuse);
        this.recent.push(s.inuse);
        if (this.recent.length > RECENT) this.recent.shift();
        await sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<{ lastInuse: number | undefined; recentMaxInuse: number; recentSamples: number; maxInuse: number }> {
    this.running = false;
    await this.loop;
    return { lastInuse: this.last, recentMaxInuse: Math.max(0, ...this.recent), recentSamples: this.recent.length, maxInuse: this.max };
  }
}
