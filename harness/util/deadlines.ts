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
  /** A failed destination's stderr to catch up with its error-desc (a remote stderr is followed, not read). */
  stderrGrace: 1_500,
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
  /** A process to exit after SIGTERM, then after SIGKILL. */
  teardownTerm: 5_000,
  teardownKill: 5_000,
  /** A process that is being killed anyway (a failed start, a helper): SIGTERM's grace is short. */
  teardownQuick: 2_000,
  /** QEMU's reply to `quit` at teardown. */
  quit: 3_000,
  /** A process group to be gone after SIGKILL (a crash on purpose, a killed bridge). */
  killed: 10_000,
  /** A helper (socat, an NBD server, a recovery channel) to listen on the port the kernel chose. */
  listen: 10_000,
  /** A QEMU to listen for a postcopy recovery (its monitor may be blocked: read from /proc). */
  recoveryListen: 15_000,
  /** A command run on a host (ssh): `--version`, a /proc read. */
  hostCommand: 20_000,
  /** An HMP command that reads state (info registers, info qom-tree). */
  hmp: 10_000,
  /** A source's run state to leave finish-migrate after QEMU said completed. */
  settle: 10_000,
  /** A destination's own words for a failed load (stderr, error-desc). */
  reason: 30_000,
  /** Once one side of a migration ended (failed, exited), the other to say so too, before the wait ends quoting the first. */
  peerEnded: 5_000,
  /** A wait a test expects to run out (the checker must notice a fault within it). */
  expectedToFail: 8_000,
  /** Something that already holds (a side already paused): the wait must return at once. */
  alreadyTrue: 1_000,
  /** A QEMU that cancels at once to say cancelled (one that waits for its connect must not, within it). */
  cancelSettles: 3_000,
  /** A survivor of a dead peer to notice it (postcopy-paused). */
  survivor: 30_000,
  /** A restored snapshot's guest to beat and answer. */
  restore: 15_000,
  /** A snapshot of a ready guest saved to the cache. */
  snapshotSave: 60_000,
  /** A block mirror to be READY, then to complete. */
  mirrorReady: 180_000,
  mirrorComplete: 120_000,
  /** fio to finish its job, then to verify every block. */
  fio: 300_000,
  /** A disk's device to complete a number of writes (fio under way). */
  diskWrites: 60_000,
  /** The guest's heartbeat after a failed migration, proving the source runs on. */
  sourceBeats: 15_000,
  /** calc-dirty-rate to have measured. */
  dirtyRate: 30_000,
  /** The gdbstub to answer a packet. */
  gdb: 10_000,
  /** A probe QEMU's QMP socket, and a probe boot's first steps. */
  probe: 10_000,
  probeBoot: 30_000,
  probeSector: 15_000,
  /** A network peer (netprobe) to open its sockets; sshd of a topology host to listen. */
  peer: 10_000,
  sshd: 15_000,
  /** A migration that is made not to converge, until the harness cancels it. */
  nonConvergence: 300_000,
  /** A migration that converges only as a throttle takes hold (auto-converge, dirty-limit). */
  convergesSlowly: 600_000,
  /** A whole replayed scenario (repro.py), a browser rendering a report. */
  replay: 600_000,
  browser: 60_000,
  /** A lost control link to come back, reconnecting; one attempt at it. */
  relink: 60_000,
  relinkAttempt: 5_000,
  /** The keepalive of a control link to declare it lost. */
  linkLoss: 20_000,
  /** The watchdog to remove a dead runner's groups. */
  watchdog: 15_000,
  /** A runner of a reaper test to reach its migration. */
  orphan: 120_000,
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
