import { describe, expect } from 'vitest';
import { DiskIntegrityError, FioWorkload } from '../harness/guest/fio.js';
import { loseWrite } from '../harness/faults/disk.js';
import { imageLocks } from '../harness/host/locks.js';
import { DOWNTIME_TRACE_ARGS, downtimeCheckpoints } from '../harness/migration/downtime-trace.js';
import { startPair } from '../harness/migration/pair.js';
import { migrateAndVerify } from '../harness/migration/verify.js';
import { createImage } from '../harness/storage/image.js';
import { deviceWrites, diskQueue, InflightSampler, queueStatus } from '../harness/storage/virtio-queue.js';
import { testArches } from '../harness/testing/arches.js';
import { dataDisk, fioOn, throttledDataDisk, waitForWrites } from '../harness/testing/disk.js';
import { scenario } from '../harness/testing/scenario.js';
import { VmBuilder } from '../harness/vm/builder.js';

// fio writes with crc32c headers to a virtio-blk disk that source and destination share,
// through a throttle that keeps its queue full, for the whole migration; then every block
// is read back on the destination.
describe.each(testArches())('disk-io %s', (arch) => {
  scenario('fio across live migration on a shared qcow2, throttled', { suite: 'disk-io', arch }, async (ctx) => {
    const disk = dataDisk(await createImage(ctx.artifacts.file('data.qcow2'), { format: 'qcow2' }));
    const pair = await startPair(ctx.vms, arch, (b) => throttledDataDisk(b.withArgs(...DOWNTIME_TRACE_ARGS), disk));
    const { src, dst } = pair;
    // The destination (-incoming) has the image open but inactive: it holds no lock yet.
    expect(imageLocks(src.process.pid, disk.file).holds).toContain('write');
    expect(imageLocks(dst.process.pid, disk.file).holds).toEqual([]);

    const fio = await FioWorkload.start(src, fioOn(disk));
    await waitForWrites(src, disk, 200);
    const q = diskQueue(disk);
    let sampler: InflightSampler | undefined;
    let dstLocksWhileActive: ReturnType<typeof imageLocks> | undefined;
    const { migration, figures } = await migrateAndVerify(pair, {
      onActive: async () => {
        dstLocksWhileActive = imageLocks(dst.process.pid, disk.file);
        sampler = new InflightSampler(src, q);
      },
    });
    const inflight = await sampler!.stop();
    // Lock handover at the switchover: not before (while active), and the source let go.
    expect(dstLocksWhileActive!.holds).toEqual([]);
    expect(imageLocks(dst.process.pid, disk.file).holds).toContain('write');
    expect(imageLocks(src.process.pid, disk.file).holds).not.toContain('write');

    // Requests were in flight in the source's device when it stopped; the stop drained them
    // (completed on the source), so neither ring holds any and nothing went in the stream.
    expect(inflight.lastInuse).toBeGreaterThan(0);
    expect((await queueStatus(src, q)).inuse).toBe(0);
    const srcWrites = await deviceWrites(src, disk);

    const written = await fio.waitWritten(dst);
    const verified = await fio.verify(dst);
    const dstWrites = await deviceWrites(dst, disk);
    ctx.artifacts.writeJson('io.json', { downtimeCheckpoints: downtimeCheckpoints(src.stderrText()), inflight, srcWrites, dstWrites, written, verified, downtimeMs: migration.info.downtime });
    // Every acknowledged write was done by exactly one side: none lost, none done twice.
    expect(written.writeIos).toBe(2048);
    expect(srcWrites + dstWrites).toBe(written.writeIos);
    return { ...figures, io: { writes: written.writeIos, verifiedBytes: verified.verifiedBytes, inflightBeforeStop: inflight.lastInuse, srcWrites, dstWrites } };
  });

  scenario('control without migration; a lost write is caught', { suite: 'disk-io', arch }, async (ctx) => {
    const disk = dataDisk(await createImage(ctx.artifacts.file('data.qcow2'), { format: 'qcow2' }));
    const vm = await ctx.vms.start(throttledDataDisk(new VmBuilder('src', arch), disk));
    await vm.waitReady();
    const fio = await FioWorkload.start(vm, fioOn(disk));
    const written = await fio.waitWritten(vm);
    // Control: the same guest and workload, no migration: the check passes.
    const verified = await fio.verify(vm);
    ctx.record({ io: { writes: written.writeIos, verifiedBytes: verified.verifiedBytes } });
    // Mutation: one acknowledged 4 KiB write undone on the host; the check must name it.
    const offset = 4 << 20;
    await loseWrite(vm, disk, offset);
    const err = await fio.verify(vm).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DiskIntegrityError);
    expect((err as Error).message).toContain(`offset ${offset}`);
    ctx.artifacts.writeJson('mutation.json', { offset, message: (err as Error).message });
  });
});
