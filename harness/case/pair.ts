import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { runAccel } from '../qemu/accel.js';
import { probeBinary } from '../qemu/probe.js';
import { SkipError } from '../util/errors.js';
import { VmBuilder } from '../vm/builder.js';
import { VmStartError } from '../vm/errors.js';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import { expectationOf, type ExpectationContext } from './expectations.js';
import type { CasePatch, Expectation, MigrationCase, SideSetup } from './model.js';
import { driverFor } from './drivers/index.js';
import { CaseStorage, sideDir } from './storage.js';
import { checkContract, describeContract } from '../guest/contract.js';
import { progress } from '../util/log.js';

/**
 * A user's own image (--image FILE): the guest contract checked once the source is ready,
 * before any migration; what is missing is said (and kept as <side>.contract.json), and the
 * checks that need it fail naming the file they looked for.
 */
async function checkUserGuest(src: StartedVm): Promise<void> {
  if (!src.spec.userImage) return;
  const report = await checkContract(src);
  src.artifacts.writeJson(`${src.name}.contract.json`, { image: src.spec.userImage, ...report });
  for (const line of describeContract(report)) progress(`${src.name}: guest contract of ${src.spec.userImage}: ${line}`);
}

/** Applies one side's setup to a builder. */
export function applySide(b: VmBuilder, s: SideSetup): VmBuilder {
  if (s.binary) b.withBinary(s.binary);
  else if (s.qemu) b.withQemu(s.qemu);
  if (s.machine) b.withMachine(s.machine);
  if (s.cpu) b.withCpu(s.cpu);
  if (s.memoryMiB) b.withMemory(s.memoryMiB);
  if (s.memoryBackend) b.withMemoryBackend(s.memoryBackend);
  if (s.firmware) b.withFirmware(s.firmware);
  if (s.firmwareFiles) b.withFirmwareFiles(s.firmwareFiles);
  if (s.liveness) b.withLiveness(s.liveness);
  for (const d of s.devices ?? []) b.withDevice(d);
  if (s.args?.length) b.withArgs(...s.args);
  return s.configure ? s.configure(b) : b;
}

/** The destination's setup: the source's, with what the destination sets instead. */
export function destinationSetup(c: Pick<MigrationCase, 'source' | 'destination'>): SideSetup {
  const s = c.source ?? {};
  const d = c.destination ?? {};
  const configure = s.configure && d.configure ? (b: VmBuilder) => d.configure!(s.configure!(b)) : (d.configure ?? s.configure);
  // A version named for the destination beats a binary the source was given.
  const binary = d.binary ?? (d.qemu ? undefined : s.binary);
  return { ...s, ...d, binary, devices: d.devices ?? s.devices, args: d.args ?? s.args, configure };
}

/** A case whose guest RAM is one /dev/shm file both sides map (memoryBackend.path 'shm'): the file named for it, removed after it. */
function withSharedMemory(scope: Scope, c: MigrationCase): MigrationCase {
  if (c.source?.memoryBackend?.path !== 'shm') return c;
  const path = `/dev/shm/migtest-${process.pid}-${randomBytes(4).toString('hex')}`;
  scope.track({ stop: async () => rmSync(path, { force: true }) });
  const memoryBackend = { ...c.source.memoryBackend, path };
  return { ...c, source: { ...c.source, memoryBackend }, destination: c.destination && { ...c.destination, memoryBackend: c.destination.memoryBackend ?? memoryBackend } };
}

/** Two sides started: the destination may have failed to start (an outcome, not an error). */
export interface StartedSides {
  src: StartedVm;
  dst?: StartedVm;
  dstError?: VmStartError;
  versions: { src: string; dst: string };
  /** What the case must do here: its own expectation or the one computed from QEMU's rules. */
  expectation: Expectation;
  storage?: CaseStorage;
  /** Where the destination listens when a fault's setup chose (a network namespace's address). */
  listenHost?: string;
  /** Places a fresh destination as the mode and the faults' setups placed this one (a retry). */
  placeDestination: (b: VmBuilder) => VmBuilder;
  /** A destination the mode starts itself, with the migration (cpr-transfer): its builder, ready. */
  deferredDestination?: VmBuilder;
  /** A user's image across two hosts: the source's root disk is mirrored into the destination's. */
  rootMirror?: boolean;
}

/**
 * The one way a pair starts, for declarative cases and hand-written scenarios alike: each
 * side's binary resolved and probed, the expectation decided (a skip names what is missing
 * before anything starts), each side placed on its host (a hosts file), the faults' setups
 * (network namespaces) and the storage's images in place, the source booted to ready, the
 * destination waiting with -incoming (given the source's machine type by its versioned name).
 */
export async function startSides(scope: Scope, given: MigrationCase): Promise<StartedSides> {
  const c = withSharedMemory(scope, given);
  const driver = driverFor(c.migration?.mode);
  const modeArgs = driver.configure ?? ((b: VmBuilder) => b);
  const srcB = modeArgs(applySide(new VmBuilder('src', c.arch), c.source ?? {}));
  const dstB = modeArgs(applySide(new VmBuilder('dst', c.arch), destinationSetup(c))).withIncoming();
  const [sb, db] = await Promise.all([srcB.resolveBinary(), dstB.resolveBinary()]);
  const versions = { src: sb.version, dst: db.version };
  const hosts = await scope.runHosts(c.hosts);
  const ctx: ExpectationContext = { src: await probeBinary(sb), dst: await probeBinary(db), accel: (await runAccel(sb)).accel, twoHosts: !!hosts };
  const expectation = expectationOf(c, ctx);
  scope.artifacts.writeJson('case.json', { case: c, versions, binaries: { src: sb.path, dst: db.path }, expectation });
  if (expectation.kind === 'skip') throw new SkipError(expectation.reason);
  srcB.onRunHost(hosts, 'src');
  dstB.onRunHost(hosts, 'dst');
  let overlay: string | undefined;
  let listenHost: string | undefined;
  const patches: CasePatch[] = [];
  for (const f of c.faults ?? []) {
    const patch: CasePatch | void = await f.setup?.({ scope, case: c, twoHosts: !!hosts });
    if (!patch) continue;
    patches.push(patch);
    patch.source?.(srcB);
    patch.destination?.(dstB);
    listenHost = patch.listenHost ?? listenHost;
  }
  // A retry's fresh destination: the mode's command line (a shared RAM backend) and the faults' places.
  const placeDestination = (b: VmBuilder) => patches.reduce((x, p) => p.destination?.(x) ?? x, modeArgs(b.withRootOverlay(overlay)));
  // The data disk's images, each made on the host whose QEMU opens it.
  const storage = c.storage ? await CaseStorage.place(scope, c.storage, hosts) : undefined;
  if (storage) (storage.configureSrc(srcB), storage.configureDst(dstB));
  // The source's machine type, from its builder: the destination need not wait for it to run.
  await dstB.withMachineOf({ binary: sb, spec: { machine: srcB.draft.machine } });
  // A user's image, once the source's command line is complete (a snapshot start picks its disk
  // by it). On one host: this pair's own overlay, which its destinations share (shared storage).
  // Across two hosts: each side its own on its host, the source's mirrored into the
  // destination's before the switchover (no storage is shared).
  const rootMirror = !!hosts && !!(await srcB.userImage());
  if (rootMirror) for (const b of [srcB, dstB]) await b.withOwnRootOverlay(await sideDir(scope, b.host));
  else dstB.withRootOverlay((overlay = await srcB.withFreshRootOverlay(scope.artifacts)));
  if (driver.begin) {
    const src = await scope.vms.start(srcB);
    await src.waitReady();
    await checkUserGuest(src);
    return { src, versions, expectation, storage, listenHost, placeDestination, deferredDestination: dstB, rootMirror };
  }
  // Both QEMUs start at once: the destination's start overlaps the source's boot or restore.
  const dstStarting = scope.vms.start(dstB).catch((e: unknown) => {
    if (e instanceof VmStartError) return e;
    throw e;
  });
  // Awaited below; handled now so a failure while the source still starts is no unhandled rejection.
  dstStarting.catch(() => undefined);
  const src = await scope.vms.start(srcB).catch(async (e: unknown) => {
    // Its destination is the scope's to stop; its own failure, if any, says less than the source's.
    await dstStarting.catch(() => undefined);
    throw e;
  });
  const [dst] = await Promise.all([dstStarting, src.waitReady().then(() => checkUserGuest(src))]);
  if (dst instanceof VmStartError) return { src, dstError: dst, versions, expectation, storage, listenHost, placeDestination, rootMirror };
  if (listenHost) dst.listenAddress = listenHost;
  return { src, dst, versions, expectation, storage, listenHost, placeDestination, rootMirror };
}
