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
