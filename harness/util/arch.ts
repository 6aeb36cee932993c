import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** Guest architectures the harness runs; every layer names them, so they live at the bottom. */
export const ARCHES = ['x86_64', 'aarch64'] as const;
export type Arch = (typeof ARCHES)[number];

export function parseArch(value: string, field = 'arch'): Arch {
  if (!(ARCHES as readonly string[]).includes(value)) throw new ConfigError(field, `'${value}' is not a supported architecture`, ARCHES);
  return value as Arch;
}

/** How QEMU runs the guest; `auto` is decided by a probe boot (qemu/accel.ts). */
export const ACCEL_CHOICES = ['auto', 'kvm', 'tcg'] as const;
export type AccelChoice = (typeof ACCEL_CHOICES)[number];
export type Accel = Exclude<AccelChoice, 'auto'>;

/** What a VM gets unless told otherwise; the KVM probe boots with the same CPU model. */
export const ARCH_DEFAULTS: Record<Arch, { machine: string; cpu: string; console: string }> = {
  x86_64: { machine: 'q35', cpu: 'qemu64', console: 'ttyS0' },
  // cortex-a57 rather than max: max turns on pointer authentication, slow under TCG.
  aarch64: { machine: 'virt', cpu: 'cortex-a57', console: 'ttyAMA0' },
};

/**
 * What boots the guest: `bios` (x86_64 SeaBIOS loading the kernel; aarch64 virt has no BIOS
 * and QEMU loads the kernel itself), `uefi` (OVMF / AAVMF from pflash, with a variable store
 * of the VM's own), or `uefi-secure` (the same with Secure Boot enforced: x86_64 needs SMM,
 * and the kernel is signed with the firmware's enrolled test key).
 */
export const FIRMWARES = ['bios', 'uefi', 'uefi-secure'] as const;
export type FirmwareKind = (typeof FIRMWARES)[number];

/** Parses a firmware name from a flag, variable or file field, naming it when it is wrong. */
/** The built-in guest images (a folder under images/ each): default (-kernel, busybox init) and system (systemd, booted by firmware from its disk). */
export const PROFILES = ['default', 'system'] as const;
export type Profile = (typeof PROFILES)[number];

export function parseProfile(field: string, value: string): Profile {
  if (!(PROFILES as readonly string[]).includes(value)) throw new ConfigError(field, `'${value}' is not a built-in image`, PROFILES);
  return value as Profile;
}

/** What --image / MIGTEST_IMAGE name: a built-in image, or the user's own disk image file. */
export type ImageChoice = { profile: Profile; file?: undefined } | { profile?: undefined; file: string };
export const IMAGE_FORMS = 'default, system, or the path of a disk image file (qcow2 or raw) with a bootloader and the guest contract (docs/guest-contract.md)';

export function parseImageChoice(field: string, value: string): ImageChoice {
  if ((PROFILES as readonly string[]).includes(value)) return { profile: value as Profile };
  // A name without a slash or a dot is a mistyped built-in name, not a file in the current folder.
  if (!/[/.]/.test(value)) throw new ConfigError(field, `'${value}' is not a built-in image`, PROFILES);
  if (!existsSync(value) || !statSync(value).isFile()) throw new ConfigError(field, `'${value}' is neither a built-in image nor an existing file`, IMAGE_FORMS);
  return { file: resolve(value) };
}

/**
 * Where a guest's signs of life come from: migtest's heartbeat (default), or the guest agent
 * polled, for a guest without the heartbeat (coarser: docs/guest-contract.md).
 */
export const LIVENESS_SOURCES = ['heartbeat', 'agent'] as const;
export type LivenessSource = (typeof LIVENESS_SOURCES)[number];

export function parseLiveness(field: string, value: string): LivenessSource {
  if (!(LIVENESS_SOURCES as readonly string[]).includes(value)) throw new ConfigError(field, `'${value}'`, ['heartbeat (the guest runs migtest\'s heartbeat)', "agent (qemu-guest-agent polled: a guest without the heartbeat)"]);
  return value as LivenessSource;
}

export function parseFirmware(field: string, value: string): FirmwareKind {
  if (!(FIRMWARES as readonly string[]).includes(value)) throw new ConfigError(field, `'${value}'`, FIRMWARES);
  return value as FirmwareKind;
}

/** The guest kernel's command line: its console on the serial port the harness logs. */
export function kernelAppend(arch: Arch): string {
  // panic=-1: a panicking guest reboots, which the heartbeat shows as a counter restart.
  return `console=${ARCH_DEFAULTS[arch].console} panic=-1 quiet loglevel=4`;
}
