import { DEADLINES } from '../util/deadlines.js';
import { constants, accessSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { progressOnce } from '../util/log.js';
import { stateDir } from '../util/paths.js';
import { privateDir } from '../util/privdir.js';
import { pollUntil } from '../util/time.js';
import { ACCEL_CHOICES, ARCH_DEFAULTS, type Accel, type AccelChoice, type Arch } from '../util/arch.js';
import { findImage } from '../images/build.js';
import { runConfig } from '../util/run-config.js';
import { GroupProcess } from '../host/process.js';
import type { QemuBinary } from './catalog.js';
import { DeadlineError } from '../util/errors.js';

export { ACCEL_CHOICES, type Accel, type AccelChoice };

export interface AccelDecision {
  accel: Accel;
  reason: string;
}

const PROBE_OK = 'MIGTEST-KVM-OK';

/**
 * A 512-byte boot sector: prints PROBE_OK on COM1 and halts. Booting it under KVM with a
 * deadline is the real test; /dev/kvm existing is not (guests can hang on it).
 */
export function kvmProbeBootSector(): Buffer {
  const msg = Buffer.from(`${PROBE_OK}\r\n\0`, 'latin1');
  const code = Buffer.from([
    0x31, 0xc0, // xor ax,ax
    0x8e, 0xd8, // mov ds,ax
    0xfc, // cld
    0xba, 0xf8, 0x03, // mov dx,0x3f8
    0xbe, 0x17, 0x7c, // mov si,0x7c17 (msg)
    0xac, // lodsb
    0x84, 0xc0, // test al,al
    0x74, 0x03, // jz halt
    0xee, // out dx,al
    0xeb, 0xf8, // jmp lodsb
    0xfa, // cli
    0xf4, // hlt
    0xeb, 0xfd, // jmp hlt
  ]);
  const sector = Buffer.alloc(512);
  code.copy(sector, 0);
  msg.copy(sector, 0x17);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** One step of the accelerator probe: what it boots and what proves it ran. */
export interface ProbeStep {
  name: string;
  args: string[];
  /** Printed on the serial console when the step got far enough. */
  marker: RegExp;
  timeoutMs: number;
}

/**
 * What the KVM probe boots: the boot sector (x86: KVM runs at all with this CPU model), then
 * the default image's kernel to its first console line with the same CPU model, since a
 * boot sector can pass where Linux then hangs before printing anything.
 */
export function probeSteps(bin: QemuBinary, cpu: string, kernel?: string, sectorImg?: string): ProbeStep[] {
  const { machine, console } = ARCH_DEFAULTS[bin.arch];
  const steps: ProbeStep[] = [];
  if (bin.arch === 'x86_64' && sectorImg)
    steps.push({ name: `a boot sector with -cpu ${cpu}`, args: ['-machine', 'pc', '-cpu', cpu, '-m', '16M', '-drive', `file=${sectorImg},format=raw,if=ide`], marker: new RegExp(PROBE_OK), timeoutMs: DEADLINES.probeSector });
  if (kernel)
    steps.push({
      name: `the default kernel to its first console line with -cpu ${cpu}`,
      // No initrd: the first line comes long before the root is wanted.
      args: ['-machine', machine, '-cpu', cpu, '-m', '256M', '-kernel', kernel, '-append', `console=${console} loglevel=8 panic=-1`],
      marker: /Linux version/,
      timeoutMs: DEADLINES.probeBoot,
    });
  return steps;
}

/**
 * Boots the probe steps in turn with the given accelerator; ok when each printed its marker
 * within its deadline, else which step failed and how (QEMU's words, or a hang).
 */
export async function probeBoot(
  bin: QemuBinary,
  accel: Accel,
  opts: { cpu?: string; kernel?: string; timeoutMs?: number } = {},
): Promise<{ ok: boolean; detail: string }> {
  const { cpu = ARCH_DEFAULTS[bin.arch].cpu, kernel = findImage(bin.arch)?.kernel } = opts;
  const dir = await privateDir('accel');
  try {
    const img = join(dir.path, 'probe.img');
    writeFileSync(img, kvmProbeBootSector());
    const steps = probeSteps(bin, cpu, kernel, img).map((s) => ({ ...s, timeoutMs: opts.timeoutMs ?? s.timeoutMs }));
    if (!steps.length) return { ok: false, detail: `nothing to boot for ${bin.arch} (no default image: run migtest images build)` };
    const done: string[] = [];
    for (const [i, step] of steps.entries()) {
      const r = await bootStep(bin, accel, step, join(dir.path, `step${i}`));
      if (!r.ok) return { ok: false, detail: `${step.name}: ${r.detail}${done.length ? ` (${done.join(', ')} passed)` : ''}` };
      done.push(step.name);
    }
    return { ok: true, detail: `booted ${done.join(', then ')}${kernel ? '' : ' (no default image yet: the kernel was not tried)'}` };
  } finally {
    await dir.cleanup();
  }
}

async function bootStep(bin: QemuBinary, accel: Accel, step: ProbeStep, base: string): Promise<{ ok: boolean; detail: string }> {
  const out = `${base}.serial.log`;
  const err = `${base}.stderr.log`;
  writeFileSync(out, '');
  const proc = GroupProcess.spawn(
    bin.path,
    [...bin.firmwareDirs.flatMap((d) => ['-L', d]), '-accel', accel, '-nodefaults', '-display', 'none', '-serial', `file:${out}`, ...step.args],
    { name: `accel-probe-${accel}`, stderrFile: err },
  );
  const serial = () => readFileSync(out, 'latin1');
  try {
    await pollUntil(`${step.name}: ${step.marker.source} on the serial console`, step.timeoutMs, () => ({
      done: step.marker.test(serial()) || !proc.running,
      state: serial().slice(-100) || '(serial empty)',
    }));
    if (step.marker.test(serial())) return { ok: true, detail: 'printed its marker' };
    return { ok: false, detail: `QEMU exited: ${readFileSync(err, 'utf8').trim().split('\n').slice(-2).join(' ')}` };
  } catch (e) {
    if (e instanceof DeadlineError)
      return { ok: false, detail: `hung, nothing on the console after ${(step.timeoutMs / 1000).toFixed(0)}s${serial() ? ` (last: ${JSON.stringify(serial().slice(-80))})` : ''}` };
    throw e;
  } finally {
    await proc.stop({ termMs: DEADLINES.teardownQuick });
  }
}

const KVM_ARCH: Partial<Record<string, Arch>> = { x64: 'x86_64', arm64: 'aarch64' };

/** The accelerator this run chose (MIGTEST_ACCEL, set by `migtest run --accel`), decided for `bin`. */
export function runAccel(bin: QemuBinary, cpu?: string): Promise<AccelDecision> {
  return resolveAccel(runConfig().accel, bin, cpu);
}

/** Decides the accelerator. The decision is cached per host boot, so workers do not re-probe. */
export async function resolveAccel(choice: AccelChoice, bin: QemuBinary, cpu = ARCH_DEFAULTS[bin.arch].cpu): Promise<AccelDecision> {
  if (!(ACCEL_CHOICES as readonly string[]).includes(choice))
    throw new ConfigError('accel', `'${choice}'`, ACCEL_CHOICES);
  if (choice === 'tcg') return { accel: 'tcg', reason: 'requested' };
  const decision = await decideKvm(bin, cpu);
  if (choice === 'kvm') {
    if (decision.accel !== 'kvm') throw new ConfigError('accel', `kvm requested but not usable: ${decision.reason}`, ACCEL_CHOICES);
    return decision;
  }
  // Said once per run: the runner announces it and marks the environment its workers inherit.
  const announced = (process.env.MIGTEST_ACCEL_ANNOUNCED ?? '').split(',');
  if (decision.accel === 'tcg' && !announced.includes(bin.arch)) {
    progressOnce(`accel-${bin.arch}`, `accel auto: using TCG for ${bin.arch} (${decision.reason})`);
    process.env.MIGTEST_ACCEL_ANNOUNCED = [...announced.filter(Boolean), bin.arch].join(',');
  }
  return decision;
}

async function decideKvm(bin: QemuBinary, cpu: string): Promise<AccelDecision> {
  if (KVM_ARCH[hostArch()] !== bin.arch) return { accel: 'tcg', reason: `host is ${hostArch()}, guest is ${bin.arch}` };
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: '/dev/kvm does not exist' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not readable and writable by this user' };
  }
  const cacheFile = join(stateDir(), `accel-${bin.arch}-${bin.version}-${cpu.replace(/[^\w.-]/g, '_')}.json`);
  try {
    const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as AccelDecision & { bootId: string };
    if (c.bootId === bootId()) return { accel: c.accel, reason: c.reason };
  } catch {
    /* not probed on this boot */
  }
  const r = await probeBoot(bin, 'kvm', { cpu });
  const decision: AccelDecision = r.ok
    ? { accel: 'kvm', reason: `KVM probe ${r.detail}` }
    : { accel: 'tcg', reason: `/dev/kvm exists but the KVM probe failed at ${r.detail}` };
  mkdirSync(stateDir(), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify({ ...decision, bootId: bootId() }));
  return decision;
}
