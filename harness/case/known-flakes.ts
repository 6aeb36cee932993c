import type { Mode, Outcome } from './model.js';
import type { Accel, Arch } from '../util/arch.js';
import { versionMatches } from '../qemu/catalog.js';

/**
 * Failures a QEMU build shows now and then, not every run: seen by this harness, not yet
 * reduced to a cause. A case whose outcome matches one runs once more on a fresh pair; it
 * passes only if that second attempt does, and its row keeps the first attempt and why.
 * Twice in a row is no flake: the case fails. A version not listed gets no second attempt,
 * so a new build that shows the same thing is red.
 */
export interface KnownFlake {
  id: string;
  arch: Arch;
  accel?: Accel;
  modes: Mode[];
  /** Version labels (prefixes); the flake applies when either side is one of them. Omitted: every version (a case's own flake). */
  versions?: string[];
  outcome: Outcome['kind'];
  /** In the outcome's error. */
  message: RegExp;
  /** What was seen, where and how often. */
  why: string;
}

export const KNOWN_FLAKES: KnownFlake[] = [
  {
    id: 'x86-tcg-postcopy-guest-oops',
    arch: 'x86_64',
    accel: 'tcg',
    modes: ['postcopy', 'recovery'],
    versions: ['5.2', '7.2', '11.1'],
    outcome: 'guest-died',
    message: /guest kernel crashed on the destination: .*(general protection fault|BUG: unable to handle)/,
    why:
      'x86_64 under TCG, postcopy: the guest kernel on the destination now and then faults on a corrupted slab pointer ' +
      '(general protection fault, non-canonical address): 11.1.3 postcopy-basic "after the first pass" 1 of 5 and then 0 of 12 (2026-12-05); ' +
      '7.2.22 -> 5.2.0 postcopy once in a CI run of every suite (2026-12-06) and 0 of 6 alone; never seen on 10.0.2 or under precopy',
  },
];

/** The known flake this outcome is (the case's own first), for its arch, accelerator, mode and versions; undefined if none. */
export function knownFlake(o: Outcome, at: { arch: Arch; accel: Accel; mode?: Mode; versions: { src: string; dst: string } }, own: KnownFlake[] = []): KnownFlake | undefined {
  const error = ('error' in o ? o.error : undefined) ?? '';
  return [...own, ...KNOWN_FLAKES].find(
    (f) =>
      f.arch === at.arch &&
      (!f.accel || f.accel === at.accel) &&
      f.modes.includes(at.mode ?? 'precopy') &&
      (!f.versions || f.versions.some((v) => versionMatches(at.versions.src, v) || versionMatches(at.versions.dst, v))) &&
      f.outcome === o.kind &&
      f.message.test(error),
  );
}
