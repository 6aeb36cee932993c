import { describe, expect } from 'vitest';
import { caseRow, caseScenario, createImage, dataDisk, diskQueue, DiskIntegrityError, DOWNTIME_TRACE_ARGS, FioWorkload, fioOn, imageLocks, InflightSampler, loseWrite, queueStatus, scenario, testArches, throttledDataDisk, VmBuilder, type DiskSpec, type ImageLocks, type StartedVm } from '../harness/index.js';

// fio writes with crc32c headers to a virtio-blk disk that source and destination share,
// through a throttle that keeps its queue full, for the whole migration; then every block
// is read back on the destination.
describe.each(testArches())('disk-io %s', (arch) => {
  const locks = (vm: StartedVm, disk: DiskSpec) => imageLocks(vm.on, vm.process.pid, disk.file);
  let sampler: InflightSampler | undefined;
  let dstLocksWhileActive: ImageLocks | undefined;
  caseScenario(
    {
      id: 'fio across live migration on a shared qcow2, throttled',
      arch,
      workload: false,
      // One image both open: on this machine, or on the hosts' shared storage with --hosts.
      storage: { kind: 'shared' },
      // QEMU's downtime checkpoints (stderr) say where the downtime goes (io.json).
      source: { args: DOWNTIME_TRACE_ARGS },
      hooks: {
        start: async ({ src, dst, storage }) => {
          // The destination (-incoming) has the image open but inactive: it holds no lock yet.
          expect((await locks(src, storage!.src.disk)).holds).toContain('write');
          expect((await locks(dst, storage!.dst.disk)).holds).toEqual([]);
        },
        onActive: async ({ src, dst, storage }) => {
          dstLocksWhileActive = await locks(dst, storage!.dst.disk);
          sampler = new InflightSampler(src, diskQueue(storage!.src.disk));
        },
      },
    },
    { suite: 'disk-io' },
    async (report, ctx) => {
    const row = caseRow(report);
    const { src, dst, storage } = report.run;
    const inflight = await sampler!.stop();
    // Lock handover at the switchover: not before (while active), and the source let go.
    expect(dstLocksWhileActive!.holds).toEqual([]);
    expect((await locks(dst, storage!.dst.disk)).holds).toContain('write');
    expect((await locks(src, storage!.src.disk)).holds).not.toContain('write');
    // Requests were in flight in the source's device when it stopped; the stop drained them
    // (completed on the source), so neither ring holds any and nothing went in the stream.
    // (The most of its last samples: one empty sample on a loaded host is the guest behind the throttle, not an idle queue.)
    expect(inflight.recentMaxInuse, `in-flight samples before the stop: last ${inflight.lastInuse}, most of the last ${inflight.recentSamples} ${inflight.recentMaxInuse}`).toBeGreaterThan(0);
    expect((await queueStatus(src, diskQueue(storage!.src.disk))).inuse).toBe(0);
    // The case's storage check counted every acknowledged write done by exactly one side.
    expect(report.io!.writes).toBe(2048);
    ctx.artifacts.writeJson('inflight.json', inflight);
    return { io: { ...row.io!, inflightBeforeStop: inflight.recentMaxInuse } };
  });

  scenario('control without migration; a lost write is caught', { suite: 'disk-io', arch, oneHost: 'a control run: one VM, no migration, its fault injected on this machine' }, async (ctx) => {
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
