import { existsSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, MigtestError } from '../util/errors.js';
import type { AccelChoice, Arch, LivenessSource } from '../util/arch.js';
import { runConfig } from '../util/run-config.js';
import { resolveAccel } from '../qemu/accel.js';
import { secureBootKeys, snakeoilSignedKernel, uefiFirmware, type FirmwareKind } from '../images/firmware.js';
import { emptyUserOverlay, freshUserOverlay, newestUserOverlay, overlayOn } from '../images/user.js';
import type { Host } from '../host/host.js';
import type { Role } from '../host/hosts-file.js';
import type { RunHosts } from '../host/run-hosts.js';
import { placeFileByContent, placeImage } from '../images/remote.js';
import { localHost } from '../host/local.js';
import { placeQemu, versionOn } from '../qemu/remote.js';
import { VmStartError } from './errors.js';
import { defaultImage } from '../images/default.js';
import type { GuestImage } from '../images/build.js';
import { findBinary, type QemuBinary } from '../qemu/catalog.js';
import { probeBinary, resolveMachine } from '../qemu/probe.js';
import { ArtifactDir } from '../report/artifacts.js';
import { ARCH_DEFAULTS, type DiskSpec, type MemoryBackend, type NicSpec, type VmSpec } from './spec.js';
import { overlayDisks, SnapshotCache, snapshotIneligible, snapshotKey } from './snapshot.js';
import type { StartedVm } from './started.js';
import { launchLocal, launchOn, planExec, type ExecPlan } from './launch.js';
import { SnapshotRestoreError } from './snapshot-start.js';
import { progress } from '../util/log.js';

/** Image files a VM boots: a built image or the user's own kernel, initrd and disk. */
export type BootImage = Pick<GuestImage, 'kernel' | 'initrd' | 'rootDisk' | 'rootFormat'> & Partial<Pick<GuestImage, 'boot' | 'user'>>;

/**
 * What a builder has been told, before the binary, image and accelerator are resolved:
 * the one object every `withX()` writes into and `clone()` copies.
 */
/** The least memory an x86_64 guest boots with on OVMF's secure-boot build (see resolveSpec). */
export const SECURE_BOOT_MIN_MIB = 384;

/** OVMF's secure-boot (SMM) build, whether a kind chose it or a VM's own firmware files name it. */
const secureBootBuild = (arch: Arch, f: { code: string; secure: boolean } | undefined) => arch === 'x86_64' && !!f && (f.secure || /secboot/i.test(basename(f.code)));

export interface VmDraft extends Omit<VmSpec, 'binary' | 'firmwareDirs' | 'accel' | 'kernel' | 'initrd' | 'disks' | 'firmware'> {
  /** A version label ("7.2", "system"); undefined: the run's choice for this side. */
  qemu?: string;
  binary?: QemuBinary;
  image?: BootImage;
  accel: AccelChoice;
  /** What boots the guest: bios (default), uefi or uefi-secure (images/firmware.ts). */
  firmware: FirmwareKind;
  /** Another build of the UEFI firmware than the kind's own files (another size, another version). */
  firmwareFiles?: { code: string; varsTemplate: string };
  /** Disks besides the read-only root. */
  disks: DiskSpec[];
  /** Starts with -incoming defer (a destination). */
  incoming: boolean;
  /** Boots for real even when a snapshot of this configuration exists. */
  freshBoot?: boolean;
  /** Accelerator properties applied only under KVM. */
  kvmProps?: string[];
  /** A user's image: the overlay of it this VM boots (its source's, for a destination). */
  rootOverlay?: string;
}

/**
 * Fluent description of one QEMU. `start()` returns a StartedVm, the only object with stop().
 * A destination is usually `source.clone('dst').withIncoming()`.
 */
export class VmBuilder {
  private readonly d: VmDraft;
  private artifacts: ArtifactDir | undefined;
  private place: { host: Host; imageDir: string; migrationAddress?: string } | undefined;
  /** Where it listens for a migration when a hosts file puts it on this machine. */
  private listenAt: string | undefined;
  /**
   * A user's image overlay this builder made for itself as a source: empty, or given the disk
   * of the snapshot launch() restores. Undefined for an overlay it was given (never saved).
   */
  private ownOverlay: 'empty' | { key: string; file: string } | undefined;

  constructor(
    readonly name: string,
    readonly arch: Arch,
    draft?: VmDraft,
  ) {
    this.d = draft ?? {
      arch,
      accel: runConfig().accel,
      firmware: runConfig().firmware,
      accelProps: [],
      memoryMiB: 256,
      smp: 1,
      machine: ARCH_DEFAULTS[arch].machine,
      cpu: ARCH_DEFAULTS[arch].cpu,
      disks: [],
      nics: [],
      agent: true,
      heartbeat: runConfig().liveness === 'heartbeat',
      livenessFromAgent: runConfig().liveness === 'agent',
      devices: [],
      globals: [],
      objects: [],
      extraArgs: [],
      incoming: false,
    };
  }

  /** A copy of what was set so far (arrays copied too). */
  get draft(): Readonly<VmDraft> {
    return this.d;
  }

  private set<K extends keyof VmDraft>(key: K, value: VmDraft[K]): this {
    this.d[key] = value;
    return this;
  }

  withQemu(version: string | undefined): this {
    return this.set('qemu', version);
  }
  withBinary(bin: QemuBinary): this {
    return this.set('binary', bin);
  }
  withImage(image: BootImage): this {
    return this.set('image', image);
  }
  withAccel(accel: AccelChoice): this {
    return this.set('accel', accel);
  }
  /** What boots the guest: bios, uefi (OVMF / AAVMF, a variable store of its own) or uefi-secure (Secure Boot enforced, the kernel signed for it). */
  withFirmware(firmware: FirmwareKind): this {
    return this.set('firmware', firmware);
  }
  /** Boots a UEFI kind from these pflash files instead of its own (the 2 MiB OVMF build, say). */
  withFirmwareFiles(files: { code: string; varsTemplate: string }): this {
    for (const [field, f] of Object.entries(files)) if (!existsSync(f)) throw new ConfigError(`firmware ${field}`, `${f} does not exist`, 'an existing pflash image');
    return this.set('firmwareFiles', files);
  }
  /** Accelerator properties, e.g. dirty-ring-size=4096 for KVM. */
  withAccelProps(...props: string[]): this {
    return this.set('accelProps', [...(this.d.accelProps ?? []), ...props]);
  }
  /** Accelerator properties that only KVM has (dirty-ring-size=4096): left out when the run uses TCG. */
  withKvmProps(...props: string[]): this {
    return this.set('kvmProps', [...(this.d.kvmProps ?? []), ...props]);
  }
  withMemory(mib: number): this {
    if (!Number.isInteger(mib) || mib < 64) throw new ConfigError('memory', `${mib} MiB`, 'an integer >= 64');
    return this.set('memoryMiB', mib);
  }
  /** Guest RAM in a memory backend: a file or memfd, shared or private. */
  withMemoryBackend(backend: MemoryBackend | undefined): this {
    return this.set('memoryBackend', backend);
  }
  withSmp(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new ConfigError('smp', String(n), 'an integer >= 1');
    return this.set('smp', n);
  }
  withMachine(machine: string): this {
    return this.set('machine', machine);
  }
  /** Options for -machine beside its type (aux-ram-share=on). */
  withMachineOptions(...options: string[]): this {
    return this.set('machineOptions', [...(this.d.machineOptions ?? []), ...options]);
  }
  withCpu(cpu: string): this {
    return this.set('cpu', cpu);
  }
  withAppend(append: string): this {
    return this.set('append', append);
  }
  withDisk(disk: DiskSpec): this {
    return this.set('disks', [...this.d.disks, disk]);
  }
  /** Drops a disk set earlier (a destination with its own copy, or without the source's fault injection). */
  withoutDisk(id: string): this {
    return this.set('disks', this.d.disks.filter((d) => d.id !== id));
  }
  withNic(nic: NicSpec): this {
    return this.set('nics', [...this.d.nics, nic]);
  }
  /** Drops a NIC set earlier (a destination on its own tap). */
  withoutNic(id: string): this {
    return this.set('nics', this.d.nics.filter((n) => n.id !== id));
  }
  withDevice(device: string): this {
    return this.set('devices', [...this.d.devices, device]);
  }
  /** Drops a -device set earlier (a destination cloned from its source, minus one device). */
  withoutDevice(device: string): this {
    return this.set('devices', this.d.devices.filter((d) => d !== device));
  }
  withGlobal(global: string): this {
    return this.set('globals', [...this.d.globals, global]);
  }
  withObject(object: string): this {
    return this.set('objects', [...this.d.objects, object]);
  }
  withArgs(...args: string[]): this {
    return this.set('extraArgs', [...this.d.extraArgs, ...args]);
  }
  withAgent(on: boolean): this {
    return this.set('agent', on);
  }
  withHeartbeat(on: boolean): this {
    return this.set('heartbeat', on);
  }
  /**
   * Where the guest's signs of life come from: its heartbeat port, or the agent polled (a
   * guest without the heartbeat: no heartbeat port is added, and the guest downtime is coarser).
   */
  withLiveness(source: LivenessSource): this {
    this.set('heartbeat', source === 'heartbeat');
    return this.set('livenessFromAgent', source === 'agent');
  }
  /** Starts with -incoming defer; the migration layer calls migrate-incoming on port 0. */
  withIncoming(on = true): this {
    return this.set('incoming', on);
  }
  /** Runs QEMU inside a network namespace (see faults/netns.ts); its monitors stay unix sockets. */
  withNetns(name: string | undefined): this {
    return this.set('netns', name);
  }
  /** Always a real boot, never a snapshot start (a scenario about booting says so). */
  withFreshBoot(on = true): this {
    return this.set('freshBoot', on);
  }
  /** Boots this overlay of a user's image (--image FILE): the one its source boots, for a destination. */
  withRootOverlay(file: string | undefined): this {
    this.ownOverlay = undefined;
    return this.set('rootOverlay', file);
  }

  /**
   * A user's image (--image FILE): a fresh overlay of it in `artifacts`, which this VM boots
   * and returns for its destinations to share. Undefined for a built-in image.
   */
  async withFreshRootOverlay(artifacts: ArtifactDir): Promise<string | undefined> {
    const image = await this.localUserImage();
    if (!image) return undefined;
    this.d.rootOverlay = await freshUserOverlay(image.rootDisk, image.rootFormat, artifacts.path);
    await this.fillRootOverlay();
    return this.d.rootOverlay;
  }

  /**
   * A source's overlay it just made, before anything opens it: given the disk saved with its
   * configuration's snapshot when there is one (launch() then restores that snapshot), else
   * left empty (launch() boots, and saves both).
   */
  private async fillRootOverlay(): Promise<void> {
    this.ownOverlay = 'empty';
    const spec = await this.resolveSpec();
    if (this.noSnapshotWhy(spec)) return;
    const key = snapshotKey(spec, this.d.binary!.version);
    const { held, copied } = new SnapshotCache().take(key, overlayDisks(spec));
    if (held) this.ownOverlay = { key, file: held };
    else if (copied) await this.emptyOverlays(spec);
  }

  /** Why this VM starts without a snapshot (it boots, or waits for a stream), or undefined when it may use one. */
  private noSnapshotWhy(spec: VmSpec): string | undefined {
    if (this.d.incoming) return 'it is a destination';
    if (this.d.freshBoot) return 'it asked for a fresh boot';
    if (!runConfig().snapshotStart) return 'snapshot start is off (--fresh-boot)';
    return snapshotIneligible(spec);
  }

  /** Overlays given a snapshot's disk that will not be restored: empty again, in place (a destination may have opened them). */
  private async emptyOverlays(spec: VmSpec): Promise<void> {
    for (const d of overlayDisks(spec)) await emptyUserOverlay(d.file, d.overlayOf!.file, d.overlayOf!.format);
  }

  /** The user's image this VM boots (--image FILE), if it boots one. */
  async userImage(): Promise<BootImage | undefined> {
    const image = this.d.image ?? (await defaultImage(this.arch));
    return image.user ? image : undefined;
  }

  /** The user's image this VM boots, on this machine. */
  private async localUserImage(): Promise<BootImage | undefined> {
    return this.place ? undefined : this.userImage();
  }

  /** The host this VM runs on. */
  get host(): Host {
    return this.place?.host ?? localHost;
  }

  /**
   * A user's image across two hosts: an overlay of this VM's own in `dir` on its host, over
   * the file copied to that host first (under its image directory, checked by SHA-256). No
   * storage is shared: a source mirrors its disk into its destination's (rootMirror).
   */
  async withOwnRootOverlay(dir: string): Promise<string | undefined> {
    const image = await this.userImage();
    if (!image) return undefined;
    const base = this.place ? await placeFileByContent(this.place.host, image.rootDisk, join(this.place.imageDir, 'user')) : image.rootDisk;
    const overlay = await overlayOn(this.host, base, image.rootFormat, join(dir, `${this.name}-root-overlay.qcow2`));
    this.ownOverlay = undefined;
    this.d.rootOverlay = overlay;
    return overlay;
  }

  withArtifacts(dir: ArtifactDir): this {
    this.artifacts = dir;
    return this;
  }
  /**
   * Runs this VM on another host (host/ssh.ts): its image copied under `imageDir` there,
   * its sockets reached through the host, its stderr and console followed into the artifacts.
   */
  onHost(host: Host | undefined, place: { imageDir?: string; migrationAddress?: string } = {}): this {
    this.place = host ? { host, imageDir: place.imageDir ?? '/var/tmp/migtest/images', migrationAddress: place.migrationAddress } : undefined;
    return this;
  }

  /**
   * Side `role` of a run's hosts file (undefined: everything on this machine): on its ssh
   * host, or on this machine listening on that side's migration address.
   */
  onRunHost(hosts: RunHosts | undefined, role: Role): this {
    if (!hosts) return this;
    const e = hosts.file.hosts[role];
    this.listenAt = e.migrationAddress;
    return this.onHost(hosts[role], { imageDir: e.dirs?.images, migrationAddress: e.migrationAddress });
  }

  /**
   * For a destination of another QEMU than its source: the source's machine type by its
   * versioned name. An alias (q35, virt) names each version's newest type, so the two sides
   * would differ; libvirt pins it the same way. A machine set for this side stays.
   */
  async withMachineOf(src: { binary: QemuBinary; spec: { machine: string } }): Promise<this> {
    const bin = await this.resolveBinary();
    if (bin.path === src.binary.path || this.d.machine !== src.spec.machine) return this;
    const machine = resolveMachine(await probeBinary(src.binary), src.spec.machine);
    return machine ? this.withMachine(machine) : this;
  }

  clone(name: string): VmBuilder {
    const c = new VmBuilder(name, this.arch, { ...this.d });
    c.artifacts = this.artifacts;
    c.place = this.place;
    c.listenAt = this.listenAt;
    return c;
  }

  /** The binary: chosen explicitly, else by version label, else the run's choice for this side. */
  async resolveBinary(): Promise<QemuBinary> {
    const side = this.d.incoming ? runConfig().qemu.dst : runConfig().qemu.src;
    this.d.binary ??= await findBinary(this.arch, this.d.qemu ?? side);
    return this.d.binary;
  }

  async resolveSpec(): Promise<VmSpec> {
    const bin = await this.resolveBinary();
    const image = this.d.image ?? (await defaultImage(this.arch));
    // A firmware-booted image's GRUB loads its kernel from its own disk.
    const fromDisk = image.boot === 'firmware';
    for (const [field, f] of [...(fromDisk ? [] : ([['kernel', image.kernel], ['initrd', image.initrd]] as const)), ['disk', image.rootDisk]] as const)
      if (!existsSync(f)) throw new ConfigError(`image ${field}`, `${f} does not exist`, 'an existing file (run: migtest images build)');
    const accel = await resolveAccel(this.d.accel, bin, this.d.cpu);
    const root = image.user ? this.userRoot(image) : { id: 'root', file: image.rootDisk, format: image.rootFormat, readonly: true };
    const { qemu: _q, binary: _b, image: _i, incoming: _in, freshBoot: _f, kvmProps, firmware: kind, firmwareFiles, ...rest } = this.d;
    // aarch64 has no BIOS: a guest that boots from its disk needs AAVMF there. Under Secure
    // Boot it boots its distribution's shim, signed for the store with Microsoft's keys.
    const kindFirmware = uefiFirmware(this.arch, fromDisk && this.arch === 'aarch64' && kind === 'bios' ? 'uefi' : kind, secureBootKeys(fromDisk));
    if (firmwareFiles && !kindFirmware) throw new ConfigError('firmware files', `${firmwareFiles.code} is a UEFI build, and this VM boots with ${kind}`, 'uefi or uefi-secure with firmware files');
    const firmware = kindFirmware && firmwareFiles ? { ...kindFirmware, ...firmwareFiles } : kindFirmware;
    return {
      ...rest,
      // OVMF's secure-boot build (SMM, its TSEG) does not boot a guest in 256 MiB: Debian's shim
      // and GRUB reset right after the EFI stub (10.0.2), a kernel loaded by QEMU takes #UD at
      // 0x30000 (11.1.3); 384 MiB boots both. Every x86_64 VM on that build gets at least that, an
      // smm=off destination given its files too (QEMU compares pc.ram's size).
      memoryMiB: secureBootBuild(this.arch, firmware) ? Math.max(rest.memoryMiB, SECURE_BOOT_MIN_MIB) : rest.memoryMiB,
      firmware,
      accelProps: [...(rest.accelProps ?? []), ...(accel.accel === 'kvm' ? (kvmProps ?? []) : [])],
      binary: bin.path,
      firmwareDirs: bin.firmwareDirs,
      accel: accel.accel,
      // Secure Boot loads only a kernel signed with a key its variable store enrolls.
      kernel: fromDisk ? undefined : firmware?.secure ? await snakeoilSignedKernel(image.kernel) : image.kernel,
      initrd: fromDisk ? undefined : image.initrd,
      // A built-in root disk is read-only, so source and destination can both open it.
      disks: [{ ...root, ...(fromDisk ? { bootindex: 0 } : {}) }, ...this.d.disks],
      ...(image.user ? { userImage: image.rootDisk } : {}),
    };
  }

  /**
   * A user's disk image: the overlay chosen for this VM (withRootOverlay; on this machine it gets
   * one when it starts), or made on its host (withOwnRootOverlay, a pair across two hosts).
   */
  private userRoot(image: BootImage): DiskSpec {
    if (!this.d.rootOverlay)
      throw new MigtestError(`${this.name}: boots ${image.rootDisk} with no overlay of it chosen (${this.place ? `on host ${this.place.host.name}, a pair makes one there` : 'a VM gets one when it starts'})`);
    return { id: 'root', file: this.d.rootOverlay, format: 'qcow2', ...(this.place ? {} : { overlayOf: { file: image.rootDisk, format: image.rootFormat } }) };
  }

  /**
   * A VM of a user's image that was given no overlay: a source gets a fresh one, a destination
   * its source's (the newest source's of its artifacts directory, else a fresh one).
   */
  private async chooseRootOverlay(artifacts: ArtifactDir): Promise<void> {
    const image = this.d.rootOverlay ? undefined : await this.localUserImage();
    if (!image) return;
    const joined = this.d.incoming ? newestUserOverlay(artifacts.path) : undefined;
    this.d.rootOverlay = joined ?? (await freshUserOverlay(image.rootDisk, image.rootFormat, artifacts.path, { source: !this.d.incoming }));
    if (!joined) await this.fillRootOverlay();
  }

  /**
   * Starts QEMU. A guest-booting VM of a configuration that booted before starts from its
   * snapshot (restored in well under a second instead of a boot); the first boot of a
   * configuration saves one. A restore that fails drops the snapshot and boots.
   */
  async start(): Promise<StartedVm> {
    const vm = await this.launch();
    if (this.listenAt) vm.listenAddress ??= this.listenAt;
    return vm;
  }

  /** cpr-exec: this VM's command line for `source`'s QEMU to exec into; attach() once it did. */
  async planExecFrom(source: StartedVm): Promise<ExecPlan> {
    const artifacts = this.artifacts ?? source.artifacts;
    await this.chooseRootOverlay(artifacts);
    const spec = await this.resolveSpec();
    artifacts.writeJson(`${this.name}.start.json`, { snapshotStart: false, why: `${source.name}'s QEMU execs it (cpr-exec)` });
    return planExec(source, this.name, spec, { artifacts, binary: this.d.binary! });
  }

  private async launch(): Promise<StartedVm> {
    const artifacts = this.artifacts ?? ArtifactDir.forTest(`adhoc-${this.name}-${Date.now()}`);
    await this.chooseRootOverlay(artifacts);
    const spec = await this.resolveSpec();
    const opts = { incoming: this.d.incoming, artifacts, binary: this.d.binary! };
    if (this.place) return this.startOn(this.place, spec, opts);
    const own = this.ownOverlay;
    this.ownOverlay = undefined;
    // An overlay holds a snapshot's disk only if it was given it before anything opened it
    // (fillRootOverlay), for this very configuration; the RAM saved with it is held until restored.
    const filled = typeof own === 'object' ? own : undefined;
    try {
      return await this.launchHere(spec, opts, own, filled);
    } finally {
      if (filled) rmSync(filled.file, { force: true });
    }
  }

  private async launchHere(spec: VmSpec, opts: { incoming: boolean; artifacts: ArtifactDir; binary: QemuBinary }, own: VmBuilder['ownOverlay'], filled: { key: string; file: string } | undefined): Promise<StartedVm> {
    const { artifacts } = opts;
    const overlays = overlayDisks(spec).length > 0;
    const why = this.noSnapshotWhy(spec) ?? (overlays && !own ? "its overlay of the user's image was given to it, not made for it" : undefined);
    artifacts.writeJson(`${this.name}.start.json`, { snapshotStart: why === undefined, why });
    const key = why ? undefined : snapshotKey(spec, opts.binary.version);
    // Given a snapshot's disk that will not be restored: a boot must not see it.
    if (filled && filled.key !== key) await this.emptyOverlays(spec);
    if (!key) return launchLocal(this.name, spec, opts);
    const cache = new SnapshotCache();
    const file = overlays ? (filled?.key === key ? filled.file : undefined) : cache.lookup(key);
    if (file) {
      try {
        const vm = await launchLocal(this.name, spec, { ...opts, snapshot: { restore: file } });
        artifacts.writeJson(`${this.name}.start.json`, { snapshotStart: true, key, restoredFrom: cache.file(key), ...(overlays ? { disksFrom: overlayDisks(spec).map((d) => cache.diskFile(key, d.id)) } : {}) });
        return vm;
      } catch (e) {
        if (!(e instanceof SnapshotRestoreError)) throw e;
        progress(`snapshot start: ${e.message}; dropped it, booting instead`);
        cache.drop(key);
        await this.emptyOverlays(spec);
      }
    }
    artifacts.writeJson(`${this.name}.start.json`, { snapshotStart: true, key, booted: true, savesSnapshot: true });
    return launchLocal(this.name, spec, { ...opts, snapshot: { save: { key, cache } } });
  }

  /** On another host: a real boot (the snapshot cache is this machine's), its image placed there first. */
  private async startOn({ host, imageDir, migrationAddress }: NonNullable<VmBuilder['place']>, spec: VmSpec, opts: { incoming: boolean; artifacts: ArtifactDir; binary: QemuBinary }): Promise<StartedVm> {
    opts.artifacts.writeJson(`${this.name}.start.json`, { snapshotStart: false, why: `it runs on host ${host.name}`, host: host.name });
    await placeQemu(host, opts.binary);
    // The accelerator was decided on this machine; KVM must be usable on that host too.
    if (spec.accel === 'kvm' && (await host.exec(['test', '-w', '/dev/kvm'])).code !== 0)
      throw new VmStartError(`${this.name}: host ${host.name} has no usable /dev/kvm, and this run chose KVM (decided here): run with --accel tcg, or give that host KVM`, { artifacts: opts.artifacts.path });
    // The same QEMU there as here: a system QEMU at the same path may be another version, and
    // the run would then label that side (and its machine types) wrongly.
    const there = await versionOn(host, spec.binary);
    if (!there.version)
      throw new VmStartError(
        `${this.name}: ${spec.binary} does not run on host ${host.name} (--version: ${there.why}; fetched QEMUs are copied there; a system QEMU or a build directory must be at the same path on both hosts)`,
        { artifacts: opts.artifacts.path },
      );
    if (there.version !== opts.binary.version)
      throw new VmStartError(
        `${this.name}: ${spec.binary} is QEMU ${there.version} on host ${host.name} but ${opts.binary.version} on this machine: install the same version there, or run a fetched QEMU (\`migtest qemu fetch\`, copied to each host)`,
        { artifacts: opts.artifacts.path },
      );
    // The kernel the spec boots (a signed copy under uefi-secure) goes there with the rest.
    const image = this.d.image ?? (await defaultImage(this.arch));
    // A user's image boots its overlay made on that host (withOwnRootOverlay): nothing else to place.
    const local = image.user ? undefined : { ...image, ...(spec.kernel ? { kernel: spec.kernel } : {}) };
    const placed = local && (await placeImage(host, local, imageDir));
    const moved = (f: string): string => (!local || !placed ? f : f === local.kernel ? placed.kernel : f === local.initrd && placed.initrd ? placed.initrd : f === local.rootDisk ? placed.rootDisk : f);
    const remoteSpec: VmSpec = { ...spec, kernel: spec.kernel && moved(spec.kernel), initrd: spec.initrd && moved(spec.initrd!), disks: spec.disks.map((d) => ({ ...d, file: moved(d.file) })) };
    const vm = await launchOn(host, this.name, remoteSpec, opts);
    vm.listenAddress = migrationAddress;
    return vm;
  }
}
