import { existsSync } from 'node:fs';
import { ConfigError } from '../util/errors.js';
import { resolveAccel, type AccelChoice } from '../host/accel.js';
import { defaultImage } from '../images/default.js';
import type { GuestImage } from '../images/build.js';
import type { Arch } from '../images/recipe.js';
import { findBinary, type QemuBinary } from '../qemu/catalog.js';
import { ArtifactDir } from '../report/artifacts.js';
import { ARCH_DEFAULTS, type DiskSpec, type NicSpec, type VmSpec } from './spec.js';
import { StartedVm } from './started.js';

/** Image files a VM boots: a built image or the user's own kernel, initrd and disk. */
export type BootImage = Pick<GuestImage, 'kernel' | 'initrd' | 'rootDisk' | 'rootFormat'>;

/**
 * Fluent description of one QEMU. `start()` returns a StartedVm, the only object with stop().
 * A destination is usually `source.clone('dst').withIncoming()`.
 */
export class VmBuilder {
  // MIGTEST_QEMU (migtest run --qemu) picks the version for every VM that does not choose one.
  private qemuVersion: string | undefined = process.env.MIGTEST_QEMU || undefined;
  private binary: QemuBinary | undefined;
  private image: BootImage | undefined;
  private accelProps: string[] = [];
  private accel: AccelChoice = (process.env.MIGTEST_ACCEL as AccelChoice | undefined) ?? 'auto';
  private memoryMiB = 256;
  private smp = 1;
  private machine: string;
  private cpu: string;
  private append: string | undefined;
  private disks: DiskSpec[] = [];
  private nics: NicSpec[] = [];
  private devices: string[] = [];
  private globals: string[] = [];
  private objects: string[] = [];
  private extraArgs: string[] = [];
  private agent = true;
  private heartbeat = true;
  private incoming = false;
  private netns: string | undefined;
  private artifacts: ArtifactDir | undefined;

  constructor(
    readonly name: string,
    readonly arch: Arch,
  ) {
    this.machine = ARCH_DEFAULTS[arch].machine;
    this.cpu = ARCH_DEFAULTS[arch].cpu;
  }

  withQemu(version: string | undefined): this {
    this.qemuVersion = version;
    return this;
  }
  withBinary(bin: QemuBinary): this {
    this.binary = bin;
    return this;
  }
  withImage(image: BootImage): this {
    this.image = image;
    return this;
  }
  withAccel(accel: AccelChoice): this {
    this.accel = accel;
    return this;
  }
  /** Accelerator properties, e.g. dirty-ring-size=4096 for KVM. */
  withAccelProps(...props: string[]): this {
    this.accelProps.push(...props);
    return this;
  }
  withMemory(mib: number): this {
    if (!Number.isInteger(mib) || mib < 64) throw new ConfigError('memory', `${mib} MiB`, 'an integer >= 64');
    this.memoryMiB = mib;
    return this;
  }
  withSmp(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new ConfigError('smp', String(n), 'an integer >= 1');
    this.smp = n;
    return this;
  }
  withMachine(machine: string): this {
    this.machine = machine;
    return this;
  }
  withCpu(cpu: string): this {
    this.cpu = cpu;
    return this;
  }
  withAppend(append: string): this {
    this.append = append;
    return this;
  }
  withDisk(disk: DiskSpec): this {
    this.disks.push(disk);
    return this;
  }
  /** Drops a disk set earlier (a destination with its own copy, or without the source's fault injection). */
  withoutDisk(id: string): this {
    this.disks = this.disks.filter((d) => d.id !== id);
    return this;
  }
  /** Drops a NIC set earlier (a destination on its own tap). */
  withoutNic(id: string): this {
    this.nics = this.nics.filter((n) => n.id !== id);
    return this;
  }
  withNic(nic: NicSpec): this {
    this.nics.push(nic);
    return this;
  }
  withDevice(device: string): this {
    this.devices.push(device);
    return this;
  }
  /** Drops a -device set earlier (a destination cloned from its source, minus one device). */
  withoutDevice(device: string): this {
    this.devices = this.devices.filter((d) => d !== device);
    return this;
  }
  withGlobal(global: string): this {
    this.globals.push(global);
    return this;
  }
  withObject(object: string): this {
    this.objects.push(object);
    return this;
  }
  withArgs(...args: string[]): this {
    this.extraArgs.push(...args);
    return this;
  }
  withAgent(on: boolean): this {
    this.agent = on;
    return this;
  }
  withHeartbeat(on: boolean): this {
    this.heartbeat = on;
    return this;
  }
  /** Starts with -incoming defer; the migration layer calls migrate-incoming on port 0. */
  withIncoming(on = true): this {
    this.incoming = on;
    return this;
  }
  /** Runs QEMU inside a network namespace (see faults/netns.ts); its monitors stay unix sockets. */
  withNetns(name: string | undefined): this {
    this.netns = name;
    return this;
  }
  withArtifacts(dir: ArtifactDir): this {
    this.artifacts = dir;
    return this;
  }

  clone(name: string): VmBuilder {
    const c = Object.assign(Object.create(VmBuilder.prototype) as VmBuilder, this, { name });
    for (const k of ['disks', 'nics', 'devices', 'globals', 'objects', 'extraArgs', 'accelProps'] as const)
      (c as unknown as Record<string, unknown[]>)[k] = [...this[k]];
    return c;
  }

  async resolveBinary(): Promise<QemuBinary> {
    this.binary ??= await findBinary(this.arch, this.qemuVersion);
    return this.binary;
  }

  async resolveSpec(): Promise<VmSpec> {
    const bin = await this.resolveBinary();
    const image = this.image ?? (await defaultImage(this.arch));
    for (const [field, f] of [['kernel', image.kernel], ['initrd', image.initrd], ['disk', image.rootDisk]] as const)
      if (!existsSync(f)) throw new ConfigError(`image ${field}`, `${f} does not exist`, 'an existing file (run: migtest images build)');
    const accel = await resolveAccel(this.accel, bin);
    return {
      arch: this.arch,
      binary: bin.path,
      firmwareDirs: bin.firmwareDirs,
      machine: this.machine,
      cpu: this.cpu,
      accel: accel.accel,
      accelProps: this.accelProps,
      memoryMiB: this.memoryMiB,
      smp: this.smp,
      kernel: image.kernel,
      initrd: image.initrd,
      append: this.append,
      // The root disk is read-only, so source and destination can both open it.
      disks: [{ id: 'root', file: image.rootDisk, format: image.rootFormat, readonly: true }, ...this.disks],
      nics: this.nics,
      agent: this.agent,
      heartbeat: this.heartbeat,
      devices: this.devices,
      globals: this.globals,
      objects: this.objects,
      extraArgs: this.extraArgs,
      netns: this.netns,
    };
  }

  async start(): Promise<StartedVm> {
    const spec = await this.resolveSpec();
    const artifacts = this.artifacts ?? ArtifactDir.forTest(`adhoc-${this.name}-${Date.now()}`);
    return StartedVm.launch(this.name, spec, {
      incoming: this.incoming,
      artifacts,
      qemuVersion: this.binary!.version,
    });
  }
}
