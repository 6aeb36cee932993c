import { describe, expect } from 'vitest';
import { checkLivenessAfterMigration, createImage, dataDisk, DEADLINES, deviceWrites, diskQueue, failWritesAfterFlush, FioWorkload, fioOn, flushDisk, pollUntil, queueStatus, scenario, startPair, testArches, throttledDataDisk, waitForWrites } from '../harness/index.js';

// werror=stop: a failed write is not reported to the guest but parked in the device, and the
// VM stops (io-error). Those requests are the only ones virtio-blk and virtio-scsi carry in
// the migration stream; the destination, on a healthy backend, must replay them on `cont`.
describe.each(testArches())('parked-requests %s', (arch) => {
  for (const bus of ['virtio-blk', 'virtio-scsi'] as const) {
    scenario(`${bus}: requests parked by an I/O error are replayed on the destination`, { suite: 'parked-requests', arch, oneHost: 'its I/O error is injected into an image on this machine' }, async (ctx) => {
      // raw: the source's last flush at the switchover must not hit the failing path (qcow2
      // writes its metadata there, and the migration then fails: "Error in migration completion").
      const disk = dataDisk(await createImage(ctx.artifacts.file('data.raw'), { format: 'raw' }), { bus, werror: 'stop', rerror: 'stop' });
      const pair = await startPair(ctx, {
        id: `${bus} parked requests`,
        arch,
        workload: false,
        source: { configure: (b) => throttledDataDisk(b, { ...disk, blkdebug: failWritesAfterFlush() }) },
        // The same image, without the failing layer and without the throttle.
        destination: { configure: (b) => b.withoutDisk(disk.id).withDisk(disk) },
      });
      const { src, dst } = pair;
      const q = diskQueue(disk);

      const fio = await FioWorkload.start(src, fioOn(disk));
      await waitForWrites(src, disk, 200);
      const mark = src.qmp.mark();
      await flushDisk(src, disk);
      await src.qmp.waitForEvent('STOP', () => true, { since: mark, timeoutMs: DEADLINES.status });
      expect((await src.status()).status).toBe('io-error');
      const ioError = src.qmp.events.slice(mark).find((e) => e.event === 'BLOCK_IO_ERROR');
      expect(ioError?.data).toMatchObject({ operation: 'write', action: 'stop', reason: 'Input/output error' });
      const parkedOnSrc = (await queueStatus(src, q)).inuse;
      expect(parkedOnSrc).toBeGreaterThan(1);
      const srcWrites = await deviceWrites(src, disk);

      // Migrate the stopped VM: the destination loads it and stays stopped, the requests parked.
      const { migration: m, destinationRunState } = await (await pair.migrate()).finish();
      const migration = m!;
      expect(migration.status).toBe('completed');
      // It stays stopped, in the source's run state (io-error).
      expect(destinationRunState).toBe('io-error');
      const onDst = await queueStatus(dst, q);
      expect(onDst.inuse).toBe(parkedOnSrc);

      // cont: the device restarts its parked requests on the healthy image.
      await dst.qmp.execute('cont');
      const after = await pollUntil('destination to complete the parked requests', DEADLINES.status, async () => {
        const s = await queueStatus(dst, q);
        return { done: s['used-idx'] - onDst['used-idx'] >= parkedOnSrc, value: s, state: s };
      }, 50);
      const liveness = await checkLivenessAfterMigration(src, dst);
      const written = await fio.waitWritten(dst);
      const verified = await fio.verify(dst);
      const dstWrites = await deviceWrites(dst, disk);
      ctx.record({
        io: { writes: written.writeIos, verifiedBytes: verified.verifiedBytes, parked: parkedOnSrc, replayed: after['used-idx'] - onDst['used-idx'], srcWrites, dstWrites },
        qemuDowntimeMs: migration.info.downtime,
        qemuTotalTimeMs: migration.info['total-time'],
      });
      ctx.artifacts.writeJson('io.json', { ioError: ioError?.data, parkedOnSrc, onDst, after, srcWrites, dstWrites, written, verified, liveness });
      // No acknowledged write was lost: fio saw all 2048 complete, the source did some, the
      // destination the rest including the parked ones; the check reads every block back.
      expect(written.writeIos).toBe(2048);
      expect(srcWrites + dstWrites).toBe(2048);
    });
  }
});
