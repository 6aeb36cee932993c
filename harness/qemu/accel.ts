import { constants, accessSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { progressOnce } from '../util/log.js';
import { stateDir } from '../util/paths.js';
import { privateDir } from '../util/privdir.js';
import { pollUntil } from '../util/time.js';
import { ACCEL_CHOICES, type Accel, type AccelChoice, type Arch } from '../util/arch.js';
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

/** Boots the probe sector with the given accelerator; true if it printed within the deadline. */
export async function probeBoot(bin: QemuBinary, accel: Accel, timeoutMs = 15_000): Promise<{ ok: boolean; detail: string }> {
  const dir = await privateDir('accel');
  const img = join(dir.path, 'probe.img');
  const out = join(dir.path, 'serial.log');
  const err = join(dir.path, 'stderr.log');
  writeFileSync(img, kvmProbeBootSector());
  writeFileSync(out, '');
  const cpu = accel === 'kvm' ? ['-cpu', 'host'] : [];
  const proc = GroupProcess.spawn(
    bin.path,
    [
      ...bin.firmwareDirs.flatMap((d) => ['-L', d]),
      '-machine', 'pc', '-accel', accel, ...cpu, '-nodefaults', '-display', 'none', '-m', '16M',
      '-serial', `file:${out}`, '-drive', `file=${img},format=raw,if=ide`,
    ],
    { name: `accel-probe-${accel}`, stderrFile: err },
  );
  try {
    await pollUntil(`${PROBE_OK} on the probe's serial`, timeoutMs, () => ({
      done: readFileSync(out, 'latin1').includes(PROBE_OK) || !proc.running,
      state: readFileSync(out, 'latin1').slice(-100) || '(serial empty)',
    }));
    if (readFileSync(out, 'latin1').includes(PROBE_OK)) return { ok: true, detail: 'probe boot printed its marker' };
    return { ok: false, detail: `QEMU exited: ${readFileSync(err, 'utf8').trim().split('\n').slice(-2).join(' ')}` };
  } catch (e) {
    if (e instanceof DeadlineError) return { ok: false, detail: `probe boot hung (${(timeoutMs / 1000).toFixed(0)}s)` };
    throw e;
  } finally {
    await proc.stop({ termMs: 2000 });
    await dir.cleanup();
  }
}

const KVM_ARCH: Partial<Record<string, Arch>> = { x64: 'x86_64', arm64: 'aarch64' };

/** The accelerator this run chose (MIGTEST_ACCEL, set by `migtest run --accel`), decided for `bin`. */
export function runAccel(bin: QemuBinary): Promise<AccelDecision> {
  return resolveAccel(runConfig().accel, bin);
}

/** Decides the accelerator. The decision is cached per host boot, so workers do not re-probe. */
export async function resolveAccel(choice: AccelChoice, bin: QemuBinary): Promise<AccelDecision> {
  if (!(ACCEL_CHOICES as readonly string[]).includes(choice))
    throw new ConfigError('accel', `'${choice}'`, ACCEL_CHOICES);
  if (choice === 'tcg') return { accel: 'tcg', reason: 'requested' };
  const decision = await decideKvm(bin);
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

async function decideKvm(bin: QemuBinary): Promise<AccelDecision> {
  if (KVM_ARCH[hostArch()] !== bin.arch) return { accel: 'tcg', reason: `host is ${hostArch()}, guest is ${bin.arch}` };
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: '/dev/kvm does not exist' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not readable and writable by this user' };
  }
  const cacheFile = join(stateDir(), `accel-${bin.arch}-${bin.version}.json`);
  try {
    const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as AccelDecision & { bootId: string };
    if (c.bootId === bootId()) return { accel: c.accel, reason: c.reason };
  } catch {
    /* not probed on this boot */
  }
  const r = await probeBoot(bin, 'kvm');
  const decision: AccelDecision = r.ok
    ? { accel: 'kvm', reason: 'probe boot succeeded' }
    : { accel: 'tcg', reason: `/dev/kvm exists but a KVM probe boot failed: ${r.detail}` };
  mkdirSync(stateDir(), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify({ ...decision, bootId: bootId() }));
  return decision;
}
