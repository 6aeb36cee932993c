import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { FioWorkload, type FioVerifyReport, type FioWriteReport } from '../guest/fio.js';
import { execChecked } from '../host/command.js';
import type { Host } from '../host/host.js';
import { sharedDirs, type Role } from '../host/hosts-file.js';
import { localHost } from '../host/local.js';
import type { RunHosts } from '../host/run-hosts.js';
import { downtimeCheckpoints } from '../migration/downtime-trace.js';
import { allocatedBytes, createImage, fillPattern } from '../storage/image.js';
import { NbdMirror, type JobProgress, type MirrorSync } from '../storage/nbd-mirror.js';
import { deviceWrites } from '../storage/virtio-queue.js';
import { dataDisk, fioOn, throttledDataDisk, waitForWrites } from '../storage/data-disk.js';
import { CheckFailedError, SkipError } from '../util/errors.js';
import type { VmBuilder } from '../vm/builder.js';
import type { Scope } from '../vm/pool.js';
import type { DiskSpec } from '../vm/spec.js';
import type { StartedVm } from '../vm/started.js';

/**
 * A data disk fio writes to (throttled, so requests are in flight all along) across the
 * migration, every block read back on the destination after it.
 * - shared: one image both QEMUs open: on this machine, or across two hosts on their shared
 *   storage (hosts file `dirs.shared`); without shared storage the case skips, saying so.
 * - mirror: each side its own image on its own host; the destination serves its copy over
 *   NBD, the source mirrors into it until READY and completes the job at pre-switchover.
 *   `top`: both images are overlays on a base with a known pattern, which is not copied.
 */
export type StorageSpec = { kind: 'shared' } | { kind: 'mirror'; sync: MirrorSync };

/** What the I/O check found, for the report and the row. */
export interface IoReport {
  writes: number;
  verifiedBytes: number;
  /** Writes each side's device completed: every acknowledged write by exactly one of them. */
  srcWrites: number;
  dstWrites: number;
  mirror?: { sync: MirrorSync; ready: JobProgress; completed: JobProgress; dstAllocated: number };
}

/** The base of a `top` mirror: 16 MiB of 0x5a at 16 MiB, on each side's host. */
export const MIRROR_BASE = { offsetMiB: 16, lengthMiB: 16, byte: 0x5a };
/** fio's job: 8 MiB in 4 KiB writes, each block once. */
const FIO_WRITES = 2048;

/** A directory for one side's images on its host, removed after the case. */
export async function sideDir(scope: Scope, host: Host): Promise<string> {
  if (host === localHost) return scope.artifacts.path;
  const dir = await host.privateDir('disks');
  scope.track({ stop: dir.cleanup });
  return dir.path;
}

/** A fresh directory on the hosts' shared storage: its path as each host sees it. */
async function sharedDir(scope: Scope, hosts: RunHosts): Promise<Record<Role, string>> {
  const dirs = sharedDirs(hosts.file);
  if (!dirs) throw new SkipError(`one image that both QEMUs open needs shared storage, and hosts file ${hosts.file.file} has none (sharedStorage: true and dirs.shared on both hosts)`);
  const on = hosts.src ?? localHost;
  const made = (await execChecked(on, ['mktemp', '-d', join(dirs.src, 'migtest-XXXXXX')])).trim();
  scope.track({ stop: async () => void (await on.exec(['rm', '-rf', '--', made])) });
  return { src: made, dst: join(dirs.dst, basename(made)) };
}

/** The images placed and the disks each side's builder gets; started with the pair. */
export class CaseStorage {
  private fio?: FioWorkload;
  private mirror?: NbdMirror;
  private completed?: JobProgress;

  private constructor(
    readonly spec: StorageSpec,
    readonly src: { host: Host; disk: DiskSpec },
    readonly dst: { host: Host; disk: DiskSpec },
  ) {}

  /** Creates the images on each side's host, before any VM starts. */
  static async place(scope: Scope, spec: StorageSpec, hosts: RunHosts | undefined): Promise<CaseStorage> {
    const host = (r: Role) => hosts?.[r] ?? localHost;
    const [srcHost, dstHost] = [host('src'), host('dst')];
    if (spec.kind === 'shared') {
      if (srcHost === dstHost) {
        const disk = dataDisk(await createImage(scope.artifacts.file('data.qcow2'), { format: 'qcow2' }));
        return new CaseStorage(spec, { host: srcHost, disk }, { host: dstHost, disk });
      }
      const dirs = await sharedDir(scope, hosts!);
      const file = await createImage(join(dirs.src, 'data.qcow2'), { format: 'qcow2', host: srcHost });
      return new CaseStorage(spec, { host: srcHost, disk: dataDisk(file) }, { host: dstHost, disk: dataDisk(join(dirs.dst, 'data.qcow2')) });
    }
    const side = async (r: Role, h: Host): Promise<{ host: Host; disk: DiskSpec }> => {
      const dir = await sideDir(scope, h);
      let backing: string | undefined;
      if (spec.sync === 'top') {
        // Each host has the same base (read-only): its data must not be copied, yet must show through.
        backing = await createImage(join(dir, `${r}-base.qcow2`), { format: 'qcow2', host: h });
        await fillPattern(backing, 'qcow2', MIRROR_BASE, h);
      }
      return { host: h, disk: dataDisk(await createImage(join(dir, `${r}.qcow2`), { format: 'qcow2', backing, host: h })) };
    };
    return new CaseStorage(spec, await side('src', srcHost), await side('dst', dstHost));
  }

  configureSrc(b: VmBuilder): VmBuilder {
    return throttledDataDisk(b, this.src.disk);
  }

  configureDst(b: VmBuilder): VmBuilder {
    return throttledDataDisk(b.withoutDisk('data'), this.dst.disk);
  }

  /** fio under way on the source; with a mirror, the job READY. */
  async start(src: StartedVm, dst: StartedVm): Promise<void> {
    this.fio = await FioWorkload.start(src, fioOn(this.src.disk));
    await waitForWrites(src, this.src.disk, 200);
    // The guest's device sits on the throttle node: that is the root the mirror starts from.
    if (this.spec.kind === 'mirror') this.mirror = await NbdMirror.start(src, dst, { srcNode: 'data-thr', dstNode: 'data', sync: this.spec.sync });
  }

  /** At pre-switchover, vCPUs stopped: nothing new is written, completing the mirror copies what is still dirty. */
  get beforeSwitchover(): (() => Promise<void>) | undefined {
    const mirror = this.mirror;
    return mirror ? async () => void (this.completed = await mirror.complete()) : undefined;
  }

  /** After the switchover: every write done once, every block reads back on the destination. */
  async check(src: StartedVm, dst: StartedVm): Promise<IoReport> {
    await this.mirror?.stopServer();
    const srcWrites = await deviceWrites(src, this.src.disk);
    const written: FioWriteReport = await this.fio!.waitWritten(dst);
    const verified: FioVerifyReport = await this.fio!.verify(dst);
    const dstWrites = await deviceWrites(dst, this.dst.disk);
    const report: IoReport = { writes: written.writeIos, verifiedBytes: verified.verifiedBytes, srcWrites, dstWrites };
    if (this.mirror) {
      report.mirror = { sync: this.mirror.opts.sync, ready: this.mirror.ready, completed: this.completed!, dstAllocated: await allocatedBytes(this.dst.disk.file, this.dst.host) };
      if (this.mirror.opts.sync === 'top') await this.checkBase(dst);
    }
    src.artifacts.writeJson('io.json', { ...report, downtimeCheckpoints: downtimeCheckpoints(src.stderrText()) });
    if (written.writeIos !== FIO_WRITES) throw new CheckFailedError(`fio completed ${written.writeIos} writes, expected ${FIO_WRITES}`, { io: report });
    // Every acknowledged write was done by exactly one side: none lost, none done twice.
    if (srcWrites + dstWrites !== written.writeIos)
      throw new CheckFailedError(`the devices completed ${srcWrites} (source) + ${dstWrites} (destination) writes, fio acknowledged ${written.writeIos}`, { io: report });
    return report;
  }

  /** The base's bytes read through the destination's own overlay. */
  private async checkBase(dst: StartedVm): Promise<void> {
    const { offsetMiB, lengthMiB, byte } = MIRROR_BASE;
    const r = await (await dst.agent()).sh(`busybox dd if=/dev/vdb bs=1M skip=${offsetMiB} count=${lengthMiB} 2>/dev/null | busybox md5sum`);
    const got = r.stdout.split(' ')[0];
    const want = createHash('md5').update(Buffer.alloc(lengthMiB << 20, byte)).digest('hex');
    if (got !== want) throw new CheckFailedError(`dst: the backing file's region reads ${got}, expected ${want}`);
  }
}
