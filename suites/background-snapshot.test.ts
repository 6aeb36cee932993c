import { statSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { DEADLINES, lacksCapability, largestGap, migrateToFile, pollUntil, QmpCommandError, RamIntegrityError, RamWorkload, scenario, testArches, VmBuilder, type Arch, type FileMigration, type ScenarioContext, type StartedVm } from '../harness/index.js';

// background-snapshot's meaning, not only its refusals: the guest keeps running while its RAM
// is written to a file, and the file holds the RAM as it was when the snapshot started
// (QEMU write-protects RAM with userfaultfd and saves a page before the guest changes it).
// A plain migration to a file is the contrast: it stops the source at its end (postmigrate),
// and its file holds the RAM as of the end, which the "as of the start" check must reject.
const SUITE = 'background-snapshot';
// 16 MiB dirtied as fast as the guest can: several passes a second, so start and end are passes apart.
const WORKLOAD = { mib: 16, rateMiBs: 0 };
// 16 MB/s: the snapshot takes seconds (most of the guest's RAM is zero pages, sent as flags).
const SLOW = { 'max-bandwidth': 16_000_000 };

interface Snapshot extends FileMigration {
  /** The guest's pass count read just before `migrate` and just after the source became active. */
  passes: [number, number];
  /** After it ended (a background snapshot's source runs on), or when a plain one was let end. */
  passesAtEnd?: number;
  src: StartedVm;
  ram: RamWorkload;
}

/** Boots the source with the RAM workload and saves it to a file, background or plain. */
async function snapshotTo(ctx: ScenarioContext, arch: Arch, background: boolean): Promise<Snapshot> {
  const src = await ctx.vms.start(new VmBuilder('src', arch));
  await src.waitReady();
  const ram = await RamWorkload.start(src, WORKLOAD);
  const before = await ram.passes(src);
  let after = before;
  let raisedAt: number | undefined;
  const m = await migrateToFile(src, ctx.scratchFile('snapshot.mig'), {
    capabilities: background ? { 'background-snapshot': true } : {},
    parameters: SLOW,
    onActive: async () => {
      after = await ram.passes(src);
      if (background) return;
      // A plain migration of a guest dirtying faster than 16 MB/s does not converge: let it
      // run three more passes, then allow a long downtime so it ends (the source stops there).
      raisedAt = await pollUntil(`${src.name}: three passes of the guest during the migration`, DEADLINES.guestExec, async () => {
        const p = await ram.passes(src);
        return { done: p >= after + 3, value: p, state: { passes: p, since: after } };
      }, 100);
      await src.qmp.execute('migrate-set-parameters', { 'downtime-limit': 20_000 });
    },
  });
  const passesAtEnd = (await src.status()).running ? await ram.passes(src) : undefined;
  return { ...m, passes: [before, after], passesAtEnd: passesAtEnd ?? raisedAt, src, ram };
}

/** A fresh QEMU of the same configuration, held stopped (-S) while it loads the file. */
async function load(ctx: ScenarioContext, arch: Arch, file: string): Promise<StartedVm> {
  const vm = await ctx.vms.start(new VmBuilder('load', arch).withIncoming().withArgs('-S'));
  await vm.loadStateFile(file);
  return vm;
}

/** Why background-snapshot cannot run here (the binary, or the host kernel's userfaultfd write-protect). */
async function lacksBackgroundSnapshot(ctx: ScenarioContext, arch: Arch): Promise<string | undefined> {
  const lacks = await lacksCapability(arch, 'background-snapshot');
  if (lacks) return lacks;
  const vm = await ctx.vms.start(new VmBuilder('probe', arch).withIncoming());
  const err = await vm.qmp
    .execute('migrate-set-capabilities', { capabilities: [{ capability: 'background-snapshot', state: true }] })
    .then(() => undefined, (e: unknown) => e);
  await vm.stop();
  // QEMU refuses the capability when the host kernel cannot write-protect anonymous memory.
  if (err instanceof QmpCommandError) return `QEMU refuses background-snapshot on this host: ${err.desc} (needs userfaultfd write-protect)`;
  if (err) throw err;
  return undefined;
}

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE, arch, oneHost: 'one VM saving its RAM to a file on its own host: no second host involved' };

  scenario('background snapshot: the source runs on, and the file holds the RAM as of its start', meta, async (ctx) => {
    const lacks = await lacksBackgroundSnapshot(ctx, arch);
    if (lacks) return ctx.skip(lacks);
    const snap = await snapshotTo(ctx, arch, true);
    const [p0, p1] = snap.passes;
    // The source never stopped: running now, and its heartbeat never went silent for long.
    expect((await snap.src.status()).status).toBe('running');
    const during = snap.src.heartbeat!.beats.filter((b) => b.hostMs >= snap.sentAt - 100 && b.hostMs <= snap.completedAt + 100);
    const gap = largestGap(during).gapMs;
    const tookMs = snap.completedAt - snap.sentAt;
    // Precondition: the end is passes away from the start, or the check below could not tell them apart.
    expect(snap.passesAtEnd! - p1, `the guest made ${snap.passesAtEnd! - p1} passes during the ${tookMs} ms snapshot`).toBeGreaterThanOrEqual(3);
    expect(gap, `the source's heartbeat stopped for ${gap} ms of a ${tookMs} ms snapshot`).toBeLessThan(tookMs / 2);
    // One running QEMU on a disk at a time: a user's image's overlay is the source's (the loaded
    // VM joins it, as a destination does), and the loaded guest takes its write lock when it runs.
    await snap.src.stop();
    const loaded = await load(ctx, arch, snap.file);
    const report = await snap.ram.checkPages(loaded, { asOf: [p0, p1 + 1] });
    // And the loaded guest runs on from there.
    await loaded.qmp.execute('cont');
    await (loaded.heartbeat ? loaded.heartbeat.waitForBeats(20) : snap.ram.waitForPass(loaded, ((report.value - 1) & 255) + 1));
    const size = statSync(snap.file);
    return {
      qemuTotalTimeMs: snap.info['total-time'],
      extra: { passes: { atStart: [p0, p1], atEnd: snap.passesAtEnd, loaded: (report.value - 1) & 255 }, sourceHeartbeatGapMs: gap, tookMs, fileBytes: size.size, fileAllocatedBytes: size.blocks * 512 },
    };
  });

  scenario('plain migration to a file: the source ends postmigrate, and the file is the RAM as of the end', meta, async (ctx) => {
    const snap = await snapshotTo(ctx, arch, false);
    const [p0, p1] = snap.passes;
    expect((await snap.src.status()).status).toBe('postmigrate');
    const loaded = await load(ctx, arch, snap.file);
    // The pattern is intact, but from the end: the "as of the start" check must fail on it.
    const whole = await snap.ram.checkPages(loaded);
    const err = await snap.ram.checkPages(loaded, { asOf: [p0, p1 + 1] }).then(() => undefined, (e: unknown) => e);
    expect(err, `a plain migration's file passed the "as of the start" check (passes ${p0}..${p1 + 1}, loaded ${(whole.value - 1) & 255})`).toBeInstanceOf(RamIntegrityError);
    return { qemuTotalTimeMs: snap.info['total-time'], extra: { passes: { atStart: [p0, p1], letEndAt: snap.passesAtEnd, loaded: (whole.value - 1) & 255 }, caught: (err as Error).message } };
  });

  scenario('control: the same guest and workload, no snapshot, passes the as-of check around a dump', meta, async (ctx) => {
    const vm = await ctx.vms.start(new VmBuilder('src', arch));
    await vm.waitReady();
    const ram = await RamWorkload.start(vm, WORKLOAD);
    await vm.heartbeat!.waitForBeats(60);
    const before = await ram.passes(vm);
    await vm.qmp.execute('stop');
    const report = await ram.checkPages(vm, { asOf: [before, before + 1] });
    await vm.qmp.execute('cont');
    return { extra: { passes: before, loaded: (report.value - 1) & 255 } };
  });
});
