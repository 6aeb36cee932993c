import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from './artifacts.js';

export type Outcome = 'passed' | 'failed' | 'skipped';

/** One row of results.json: a scenario on one arch. */
export interface ScenarioResult {
  suite: string;
  scenario: string;
  arch?: string;
  outcome: Outcome;
  /** What the outcome means, where "passed" alone would mislead (a negative cell passes by being refused). */
  verdict?: string;
  /** Wall time of the whole scenario (boot, migration, checks), ms. */
  wallMs: number;
  /**
   * The wall split three ways (they add up to wallMs), overlaps counted once: bootMs, VMs
   * starting (spawn to ready: booted, restored from a snapshot, or a destination's monitor
   * answering); migratingMs, QEMU migrating beyond that (a migration from `migrate` to its
   * end, a save to or load from a file, a snapshot job); harnessMs, the rest (waits on the
   * guest, checks, teardown).
   */
  phases?: { bootMs: number; migratingMs: number; harnessMs: number };
  /**
   * CPU time (user + system) used while it ran: processesMs by the processes it started on
   * this machine (QEMU, socat, qemu-img, a child migtest run; counted as each exits, so a QEMU
   * on another host is not in it), harnessMs by the test worker itself (QMP, the guest agent,
   * checks, logs). Where the wall's time went on a busy machine is where the CPU went.
   */
  cpu?: { processesMs: number; harnessMs: number };
  /** The suite file it ran in, relative to the repository (suites/precopy-basic.test.ts). */
  file?: string;
  /** QEMU's own total-time, downtime and throughput (query-migrate on the source). */
  qemuTotalTimeMs?: number;
  qemuDowntimeMs?: number;
  /** Largest heartbeat gap across switchover as the host saw it. */
  guestDowntimeMs?: number;
  /**
   * Set when liveness came from the guest agent alone (a guest without the heartbeat): the
   * median interval between the agent's answers, ms. guestDowntimeMs is no finer than this.
   */
  guestDowntimeResolutionMs?: number;
  throughputMbps?: number;
  transferredBytes?: number;
  dirtySyncCount?: number;
  normalPages?: number;
  zeroPages?: number;
  /** Postcopy: ms the destination's vCPUs waited on missing pages, and the pages it asked for. */
  postcopyBlocktimeMs?: number;
  postcopyRequests?: number;
  /** Postcopy recovery, the last (or only) episode. */
  recovery?: RecoveryFigures;
  /** In-flight disk I/O across the migration (disk-io, parked-requests, storage-mirror). */
  io?: IoFigures;
  /** The guest on the network, as a peer pinging it saw it (net-liveness). */
  net?: NetSummary;
  reason?: string;
  error?: string;
  artifacts?: string;
  extra?: Record<string, unknown>;
}

/** One postcopy failure and its recovery, as the harness timed it. */
export interface RecoveryFigures {
  /** Fault fired -> both sides in postcopy-paused. */
  failureToPausedMs: number;
  /** Fault fired -> the source postcopy-active again. */
  failureToRecoveredMs: number;
  /** Longest silence of the destination guest's heartbeat across the episode: the stall it felt. */
  heartbeatGapMs: number;
  /** Recoveries needed (a failed handshake counts). */
  attempts: number;
}

/** What happened to the guest's disk writes. */
export interface IoFigures {
  /** Writes fio issued and had acknowledged, and the bytes it verified afterwards. */
  writes: number;
  verifiedBytes?: number;
  /** Requests the source's device held (virtqueue inuse) just before it stopped: the most of its last 10 samples (20 ms apart). */
  inflightBeforeStop?: number;
  /** Requests parked by werror=stop and carried in the migration stream. */
  parked?: number;
  /** Of those, the ones the destination completed after `cont`. */
  replayed?: number;
  /** Writes each side's device completed (query-blockstats). */
  srcWrites?: number;
  dstWrites?: number;
  /** Storage migration: the mirror's sync mode and the bytes it copied. */
  mirrorSync?: string;
  mirrorBytes?: number;
  /** The graceful cancel at pre-switchover, cancel to COMPLETED: part of the downtime. */
  mirrorCompleteMs?: number;
}

/** Pings at a fixed interval from the guest's LAN, across the switchover. */
export interface NetSummary {
  intervalMs: number;
  sent: number;
  lost: number;
  /** Longest time without a reply. */
  maxGapMs: number;
  /** Announce frames after the destination resumed: QEMU's RARPs and the guest's gratuitous ARPs. */
  rarp: number;
  garp: number;
  /** From the destination's RESUME to the first announce frame on the bridge. */
  firstAnnounceMs?: number;
  vhost: boolean;
}

const resultsLog = () => join(runDir(), 'results.jsonl');

/** Appended by each test worker; one short line per write, so concurrent workers do not interleave. */
export function recordResult(r: ScenarioResult): void {
  appendFileSync(resultsLog(), `${JSON.stringify(r)}\n`);
}

export function readResults(dir = runDir()): ScenarioResult[] {
  const f = join(dir, 'results.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ScenarioResult);
}
