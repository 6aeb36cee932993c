import type { Arch } from '../images/recipe.js';

/** One side of a pair: what may differ between a source and its destination. */
export interface SideSetup {
  /** QEMU version prefix ("7.2", "10.0"); default the run's. */
  qemu?: string;
  /** Machine type, optionally with options ("pc-q35-7.2", "q35,smm=off"). */
  machine?: string;
  cpu?: string;
  memoryMiB?: number;
  /** Extra -device arguments. */
  devices?: string[];
  /** Extra raw arguments (a -netdev or -blockdev the devices need). */
  args?: string[];
}

export type Side = 'source' | 'destination';

/**
 * What a pair must do. `refused`: the destination fails to load the stream, saying
 * `message` (a substring); `dst-start-fails`: the destination cannot even start (an
 * unknown machine type); `migrates`: liveness and RAM are checked as usual.
 */
export type PairExpectation =
  | { kind: 'migrates'; why?: string }
  | { kind: 'refused'; side: Side; message: string; why: string }
  | { kind: 'dst-start-fails'; message: string; why: string }
  /** QEMU reports success, but the guest is dead on the destination (a check QEMU does not make). */
  | { kind: 'guest-dies'; why: string }
  | { kind: 'skip'; reason: string };

/** A source and destination setup and what must happen when one migrates to the other. */
export interface PairCase {
  id: string;
  arch: Arch;
  src: SideSetup;
  /** Merged over `src` for the destination: only what differs. */
  dst: SideSetup;
  expect: PairExpectation;
}

export function dstSetup(c: Pick<PairCase, 'src' | 'dst'>): SideSetup {
  return { ...c.src, ...c.dst, devices: c.dst.devices ?? c.src.devices, args: c.dst.args ?? c.src.args };
}

/** What happened, for the compatibility report and results.json. */
export interface PairOutcome {
  outcome: 'migrated' | 'refused' | 'dst-start-failed' | 'failed' | 'skipped';
  side?: Side;
  error?: string;
  downtimeMs?: number;
  guestDowntimeMs?: number;
}
