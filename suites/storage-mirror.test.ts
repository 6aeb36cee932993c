import { createHash } from 'node:crypto';
import { describe, expect } from 'vitest';
import { FioWorkload } from '../harness/guest/fio.js';
import { startPair } from '../harness/migration/pair.js';
import { DOWNTIME_TRACE_ARGS, downtimeCheckpoints } from '../harness/migration/downtime-trace.js';
import { migrateAndVerify } from '../harness/migration/verify.js';
import { allocatedBytes, createImage, fillPattern } from '../harness/storage/image.js';
import { NbdMirror, type JobProgress, type MirrorSync } from '../harness/storage/nbd-mirror.js';
import { deviceWrites } from '../harness/storage/virtio-queue.js';
import { testArches } from '../harness/testing/arches.js';
import { dataDisk, fioOn, throttledDataDisk, waitForWrites } from '../harness/testing/disk.js';
import { scenario } from '../harness/testing/scenario.js';
import { CheckFailedError } from '../harness/util/errors.js';

// Storage migration without shared storage, libvirt's way: each side has its own image; the
// destination exports its copy over NBD, the source mirrors into it while fio writes, the RAM
// migration runs, and at pre-switchover the mirror is cancelled gracefully (no pivot).
const BASE = { offsetMiB: 16, lengthMiB: 16, byte: 0x5a };

describe.each(testArches())('storage-mirror %s', (arch) => {
  for (const sync of ['full', 'top'] as MirrorSync[]) {
    const title = sync === 'full' ? 'blockdev-mirror sync=full to an empty image over NBD' : 'blockdev-mirror sync=top over a shared backing file';
    scenario(title, { suite: 'storage-mirror', arch }, async (ctx) => {
      let backing: string | undefined;
      if (sync === 'top') {
        // The base both sides share (read-only): its data must not be copied, yet must show through.
        backing = await createImage(ctx.artifacts.file('base.qcow2'), { format: 'qcow2' });
        await fillPattern(backing, 'qcow2', BASE.offsetMiB, BASE.lengthMiB, BASE.byte);
      }
      const srcDisk = dataDisk(await createImage(ctx.artifacts.file('src.qcow2'), { format: 'qcow2', backing }));
      const dstDisk = dataDisk(await createImage(ctx.artifacts.file('dst.qcow2'), { format: 'qcow2', backing }));
      const pair = await startPair(ctx.vms, arch, {
        // QEMU's downtime checkpoints (stderr) say where the downtime goes.
        configure: (b) => throttledDataDisk(b.withArgs(...DOWNTIME_TRACE_ARGS), srcDisk),
        configureDst: (b) => b.withoutDisk('data').withDisk(dstDisk),
      });
      const { src, dst } = pair;
      const fio = await FioWorkload.start(src, fioOn(srcDisk));
      await waitForWrites(src, srcDisk, 200);

      // The guest's device sits on the throttle node: that is the root the mirror starts from.
      const mirror = await NbdMirror.start(src, dst, { srcNode: 'data-thr', dstNode: 'data', sync });
      let completed: JobProgress | undefined;
      const { migration, figures } = await migrateAndVerify(pair, {
        // vCPUs are stopped: nothing new is written, the cancel copies what is still dirty.
        beforeSwitchover: async () => {
          completed = await mirror.complete();
        },
      });
      await mirror.stopServer();
      const srcWrites = await deviceWrites(src, srcDisk);
      const written = await fio.waitWritten(dst);
      const verified = await fio.verify(dst);
      const dstAllocated = await allocatedBytes(dstDisk.file);
      let baseRegion: string | undefined;
      if (sync === 'top') {
        // The base's bytes read through the destination's own overlay.
        const r = await (await dst.agent()).sh(`busybox dd if=/dev/vdb bs=1M skip=${BASE.offsetMiB} count=${BASE.lengthMiB} 2>/dev/null | busybox md5sum`);
        baseRegion = r.stdout.split(' ')[0];
        const want = createHash('md5').update(Buffer.alloc(BASE.lengthMiB << 20, BASE.byte)).digest('hex');
        if (baseRegion !== want) throw new CheckFailedError(`dst: the backing file's region reads ${baseRegion}, expected ${want}`);
      }
      ctx.record({ ...figures, io: { writes: written.writeIos, verifiedBytes: verified.verifiedBytes, mirrorSync: sync, mirrorBytes: completed!.offset, mirrorCompleteMs: completed!.tookMs, srcWrites, dstWrites: await deviceWrites(dst, dstDisk) } });
      ctx.artifacts.writeJson('io.json', { downtimeCheckpoints: downtimeCheckpoints(src.stderrText()), ready: mirror.ready, completed, srcWrites, written, verified, dstAllocated, baseRegion, downtimeMs: migration.info.downtime });
      expect(written.writeIos).toBe(2048);
      // full: at least the whole disk (rewrites of copied clusters before READY would add to it).
      if (sync === 'full') expect(mirror.ready.len).toBeGreaterThanOrEqual(64 << 20);
      // top: only what the guest wrote in the overlay is copied, not the 16 MiB of the base.
      else expect(mirror.ready.len).toBeLessThan(BASE.lengthMiB << 20);
    });
  }
});
