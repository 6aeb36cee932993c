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
