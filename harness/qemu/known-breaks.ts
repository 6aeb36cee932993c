import type { Accel, Arch } from '../util/arch.js';
import { versionMatches } from './catalog.js';

/**
 * Breaks between real builds that no general rule explains, found by this harness and kept
 * as rules with what was seen: the cell still runs, and must be refused in these words.
 */
export interface KnownBreak {
  arch: Arch;
  accel?: Accel;
  /** Version labels (prefixes) of each side. */
  src: string;
  dst: string;
  /** How it ends: the destination refusing the stream (default), crashing, or the guest lost (the source completed). */
  outcome?: 'refused' | 'crashed' | 'lost';
  message: string;
  why: string;
}

export const KNOWN_BREAKS: KnownBreak[] = [
  {
    arch: 'x86_64',
    src: '10.0.13',
    dst: '11.1',
    message: 'vring.num 1024 exceeds allocated max 256',
    why: "seen 2026-12-01: Debian trixie's 10.0.13 -> sid's 11.1.3 on pc-q35-10.0, precopy and postcopy, the destination refuses virtio-blk's queue 0; 10.0.2 -> 11.1.3 and 10.0.13 -> 10.0.2 migrate",
  },
  {
    arch: 'aarch64',
    accel: 'tcg',
    src: '11.1',
    dst: '10.0',
    outcome: 'crashed',
    message: "vmstate_load_state: Assertion `first_elem || !n_elems || !size' failed",
    why: "seen 2026-12-01 under TCG: 11.1.3 -> 10.0.2 and -> 10.0.13 on virt-10.0, the destination aborts on an assertion instead of refusing the CPU state (older destinations refuse it cleanly)",
  },
];

/** The known break between these two builds on this arch and accelerator, if any. */
export function knownBreak(arch: Arch, accel: Accel, src: string, dst: string) {
  return KNOWN_BREAKS.find((k) => k.arch === arch && (!k.accel || k.accel === accel) && versionMatches(src, k.src) && versionMatches(dst, k.dst));
}

