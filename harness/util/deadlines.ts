import { runConfig } from './run-config.js';

/**
 * Default deadlines, unscaled, by what is awaited. Sized for TCG on 2 shared cores. A wait
 * takes `{ timeoutMs, since }`; without timeoutMs it uses its default here. Passed or
 * default, a deadline is scaled once, by the primitive that starts the timer (pollUntil,
 * withDeadline, a QMP request or event wait), never by the caller.
 */
export const DEADLINES = {
  /** A QMP or agent socket to accept us, and QMP's greeting. */
  connect: 15_000,
  /** A QMP command's reply. */
  command: 30_000,
  /** The guest agent to answer guest-sync. */
  agentSync: 3_000,
  /** The guest agent to answer at all (its port may open late). */
  agent: 60_000,
  /** A program run in the guest through the agent. */
  guestExec: 60_000,
  /** A guest that boots to READY. */
  boot: 120_000,
  /** A QMP event nothing more specific names. */
  event: 60_000,
  /** Heartbeats from a running guest. */
  beats: 30_000,
  /** The destination guest's heartbeats after a switchover. */
  liveness: 20_000,
  /** A whole migration, to a terminal state. */
  migration: 180_000,
  /** The destination to run (or load a stopped source) after the source completed. */
  switchover: 120_000,
  /** QEMU to fill in its final figures after completed (7.2 with multifd is late). */
  finalFigures: 10_000,
  /** A migration status change the harness caused (postcopy switch, pause, recovery). */
  status: 60_000,
  /** A state of the migration a fault or hook waits for. */
  trigger: 120_000,
  /** A helper process (fd passing, a bridge) to finish or listen. */
  helper: 30_000,
  /** A source to run and beat again after a failed migration. */
  sourceRecovers: 30_000,
  /** A scenario as a whole (vitest's test timeout). */
  scenario: 600_000,
  /** A process to exit after a polite request, before signals. */
  teardownGrace: 5_000,
} as const;

export type DeadlineName = keyof typeof DEADLINES;

/**
 * The one wait shape. `since` is where the awaited thing is looked for from, in the units
 * of what is awaited: an event index (QmpClient.mark()), a beat index, a host time in ms.
 */
export interface Wait {
  timeoutMs?: number;
  since?: number;
}

/** The deadline a wait uses, still unscaled: the caller's, or the named default. */
export function deadline(opts: Wait | undefined, name: DeadlineName): number {
  return opts?.timeoutMs ?? DEADLINES[name];
}

/** Applies MIGTEST_TIME_SCALE. Only timer-starting primitives call this. */
export function scale(ms: number): number {
  return Math.round(ms * runConfig().timeScale);
}
