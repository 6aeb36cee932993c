import { statSync } from 'node:fs';
import { describe, expect } from 'vitest';
import {
  behaviourOf, KNOWN_FAILURES, unknownSectionWords, checkLivenessAfterMigration, createImage, dataDisk, DEFAULT_WORKLOAD, dumpStream, runQemu, guestDevice, JobFailedError, lacksCapability, migrateToFile, pollUntil, DEADLINES,
  RamWorkload, scenario, snapshotDelete, snapshotLoad, snapshotSave, testArches, transportKind, VmBuilder, type Arch, type ScenarioContext, type StartedVm,
} from '../harness/index.js';

// Snapshots other than a live migration: internal snapshots of the whole VM in a qcow2
// (savevm/loadvm as QMP jobs), and a migration to a file that a fresh QEMU loads back.
const SUITE = 'snapshots';
const RNG = 'virtio-rng-pci,id=rng0,bus=pcie.0,addr=0xc';

/** A VM with a writable qcow2 data disk (it holds the snapshots' VM state); it boots (no snapshot start with a data disk). */
async function withDisk(ctx: ScenarioContext, arch: Arch, name: string, file: string, devices: string[] = []): Promise<StartedVm> {
  const b = new VmBuilder(name, arch).withDisk(dataDisk(file));
  for (const d of devices) b.withDevice(d);
  const vm = await ctx.vms.start(b);
  await vm.waitReady();
  return vm;
}

/** Writes a marker at the start of the data disk, synced to it. */
const writeMarker = async (vm: StartedVm, dev: string, text: string) =>
  (await vm.agent()).sh(`echo ${text} | busybox dd of=${dev} bs=512 count=1 conv=sync,fsync 2>/dev/null`);
/** Reads the marker from the disk itself, past the guest's page cache. */
const readMarker = async (vm: StartedVm, dev: string) =>
  (await (await vm.agent()).sh(`sync; echo 3 > /proc/sys/vm/drop_caches; busybox dd if=${dev} bs=512 count=1 2>/dev/null | busybox head -n 1`)).stdout.trim();

// The QMP jobs where the version has them (6.0+), HMP savevm/loadvm/delvm before: one call either way.
const save = (vm: StartedVm, tag: string) => snapshotSave(vm, { tag, devices: ['data'] });
const load = (vm: StartedVm, tag: string) => snapshotLoad(vm, { tag, devices: ['data'] });
const remove = (vm: StartedVm, tag: string) => snapshotDelete(vm, { tag, devices: ['data'] });

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE, arch, oneHost: 'saves and loads snapshots of one VM on this machine' };

  scenario('snapshot-save then snapshot-load: the guest and its disk come back at the saved point; snapshot-delete removes it', meta, async (ctx) => {
    const disk = await createImage(ctx.artifacts.file('data.qcow2'), { format: 'qcow2' });
    const vm = await withDisk(ctx, arch, 'src', disk);
    const dev = guestDevice({});
    await writeMarker(vm, dev, 'BEFORE-SAVE');
    const savedAt = vm.heartbeat!.last!.n;
    const saveMs = await save(vm, 'mt1');
    await writeMarker(vm, dev, 'AFTER-SAVE');
    expect(await readMarker(vm, dev)).toBe('AFTER-SAVE');
    await vm.heartbeat!.waitForBeats(50);
    const beforeLoad = vm.heartbeat!.last!.n;
    const since = vm.heartbeat!.beats.length;
    const loadMs = await load(vm, 'mt1');
    // The guest went back in time: its counter resumes from the save, and its disk is as then.
    // Beats the guest sent before the load stopped it may arrive after `since`: the load's
    // first beat is the first that goes back, and it goes back to the save, no further.
    const first = await pollUntil(`${vm.name}: a heartbeat from before ${beforeLoad} after the load`, DEADLINES.beats, () => {
      const back = vm.heartbeat!.beats.slice(since).find((b) => b.n < beforeLoad);
      return { done: !!back, value: back, state: { last: vm.heartbeat!.last?.n } };
    });
    expect(first.n).toBeGreaterThanOrEqual(savedAt);
    await vm.dropAgent();
    expect(await readMarker(vm, dev)).toBe('BEFORE-SAVE');
    await remove(vm, 'mt1');
    const gone = await load(vm, 'mt1').then(() => undefined, (e: unknown) => e);
    expect(gone).toBeInstanceOf(JobFailedError);
    expect((gone as Error).message).toMatch(/mt1/);
    return { extra: { saveMs, loadMs, heartbeat: { savedAt, beforeLoad, afterLoad: first.n }, afterDelete: (gone as Error).message } };
  });

  scenario('a snapshot loaded into a QEMU without one of its devices is refused with QEMU\'s words', meta, async (ctx) => {
    const disk = await createImage(ctx.artifacts.file('data.qcow2'), { format: 'qcow2' });
    const first = await withDisk(ctx, arch, 'src', disk, [RNG]);
    await save(first, 'with-rng');
    await first.stop();
    const other = await withDisk(ctx, arch, 'other', disk);
    const err = await load(other, 'with-rng').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    // Worded per version (qemu/behaviour.ts); 10.0 says it on stderr, which may land a moment after the job's end.
    const words = `${behaviourOf(other.qemuVersion).unknownSection} ${unknownSectionWords('0000:00:0c.0/virtio-rng')}`;
    const said = await pollUntil(`${other.name}: QEMU's words for the refused snapshot`, DEADLINES.reason, () => {
      const text = `${(err as Error).message} | ${other.stderrText()}`;
      return { done: text.includes(words), value: text, state: text.slice(-300) };
    });
    expect(said).toContain(words);
    return { extra: { refused: (err as Error).message, stderr: other.stderrText().trim().split('\n').slice(-2) } };
  });

  // Internal snapshots and migration capabilities: multifd cannot save a snapshot (10.2
  // refuses it, older versions do not: a known failure, data in qemu/behaviour.ts);
  // mapped-ram can. The VM runs on either way.
  scenario('snapshot-save with multifd on is refused in QEMU\'s words; the VM runs on', meta, async (ctx) => {
    const vm = await withDisk(ctx, arch, 'src', await createImage(ctx.artifacts.file('data.qcow2'), { format: 'qcow2' }));
    const lacks = await lacksCapability(arch, 'multifd');
    if (lacks) return ctx.skip(lacks);
    await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'multifd', state: true }] });
    let said = '';
    await ctx.xfail(KNOWN_FAILURES.snapshotWithMultifd, vm.qemuVersion, async () => {
      const err = await save(vm, 'multifd').then(() => undefined, (e: unknown) => e);
      // Anything but QEMU's refusal (QEMU dying of it, say) fails in its own words.
      if (err !== undefined && !(err instanceof JobFailedError)) throw err;
      expect(err, 'snapshot-save with multifd on was accepted').toBeInstanceOf(JobFailedError);
      said = (err as Error).message;
      expect(said).toContain('Snapshots are not compatible with multifd');
      expect((await vm.status()).running).toBe(true);
    });
    return { extra: { refused: said || undefined, exit: vm.process.exit } };
  });

  scenario('snapshot-save and snapshot-load with mapped-ram on: the guest comes back', meta, async (ctx) => {
    const lacks = await lacksCapability(arch, 'mapped-ram');
    if (lacks) return ctx.skip(lacks);
    const vm = await withDisk(ctx, arch, 'src', await createImage(ctx.artifacts.file('data.qcow2'), { format: 'qcow2' }));
    await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'mapped-ram', state: true }] });
    const figures: Record<string, number> = {};
    await ctx.xfail(KNOWN_FAILURES.snapshotWithMappedRam, vm.qemuVersion, async () => {
      const savedAt = vm.heartbeat!.last!.n;
      figures.saveMs = await save(vm, 'mapped');
      await vm.heartbeat!.waitForBeats(20);
      const since = vm.heartbeat!.beats.length;
      figures.loadMs = await load(vm, 'mapped');
      const back = await pollUntil(`${vm.name}: a heartbeat from the save after the load`, DEADLINES.beats, () => {
        const b = vm.heartbeat!.beats.slice(since).find((x) => x.n < savedAt + 20);
        return { done: !!b, value: b, state: { last: vm.heartbeat!.last?.n } };
      });
      expect(back.n).toBeGreaterThanOrEqual(savedAt);
    });
    return { extra: figures };
  });

  const variants: Array<{ name: string; capabilities: Record<string, boolean>; parameters?: Record<string, unknown>; needs: string[] }> = [
    { name: 'plain', capabilities: {}, needs: [] },
    { name: 'mapped-ram', capabilities: { 'mapped-ram': true }, needs: ['mapped-ram'] },
    { name: 'mapped-ram + multifd (4 channels)', capabilities: { 'mapped-ram': true, multifd: true }, parameters: { 'multifd-channels': 4 }, needs: ['mapped-ram', 'multifd'] },
  ];
  for (const v of variants)
    scenario(`migration to a file and back (${v.name}): the restored guest lives on with intact RAM`, meta, async (ctx) => {
      const bin = (await runQemu(arch)).src;
      const noFile = transportKind('file').lacks(bin.version, 'source');
      if (noFile) return ctx.skip(noFile);
      for (const cap of v.needs) {
        const lacks = await lacksCapability(arch, cap);
        if (lacks) return ctx.skip(lacks);
      }
      const src = await ctx.vms.start(new VmBuilder('src', arch));
      await src.waitReady();
      const ram = await RamWorkload.start(src, DEFAULT_WORKLOAD);
      const saved = await migrateToFile(src, ctx.scratchFile('state.mig'), { capabilities: v.capabilities, parameters: v.parameters });
      expect((await src.status()).status).toBe('postmigrate');
      const st = statSync(saved.file);
      // The stream's sections, read by QEMU's own analyze-migration.py where it can be had.
      const stream = await dumpStream(saved.file, bin, ctx.artifacts);
      // A plain stream it must read; a mapped-ram one only a version that knows the format can.
      if (v.name === 'plain') expect(stream).not.toHaveProperty('unreadable');
      if ('sections' in stream) expect(stream.sections.map((s) => s.name)).toEqual(expect.arrayContaining(['ram', 'cpu']));
      // A fresh QEMU of the same configuration loads the file and runs the guest on.
      const dst = await ctx.vms.start(new VmBuilder('dst', arch).withIncoming());
      await dst.loadStateFile(saved.file, { capabilities: v.capabilities, parameters: v.parameters });
      await dst.waitRunState('running');
      const live = await checkLivenessAfterMigration(src, dst);
      const check = await ram.check(dst);
      return {
        qemuTotalTimeMs: saved.info['total-time'],
        qemuDowntimeMs: saved.info.downtime,
        guestDowntimeMs: live.guestObservedDowntimeMs,
        extra: {
          fileBytes: st.size, fileAllocatedBytes: st.blocks * 512, sparse: st.blocks * 512 < st.size, ramPages: check.pages,
          stream: 'sections' in stream ? { sections: stream.sections.length, script: stream.from } : stream,
        },
      };
    });
});
