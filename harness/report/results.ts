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
  /** QEMU's own total-time, downtime and throughput (query-migrate on the source). */
  qemuTotalTimeMs?: number;
  qemuDowntimeMs?: number;
  /** Largest heartbeat gap across switchover as the host saw it. */
  guestDowntimeMs?: number;
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
