import { artifactsPath } from '../report/metadata.js';
import type { RowInputs, StoredRow } from './store.js';

/** The inputs a row ran with, as one key: two rows with the same key should end the same. */
export const inputsKey = (r: RowInputs) => [r.suite, r.scenario, r.arch, r.accel, r.srcQemu, r.dstQemu, r.srcBinary, r.dstBinary, r.placement].join('\u0000');

export interface KeyRecord {
  inputs: RowInputs;
  /** Runs looked at (the last N that ran these inputs), and the rows' outcomes in them (skips are no evidence either way). */
  runs: number;
  passed: number;
  failed: number;
  /** passed / (passed + failed), undefined when every row was skipped. */
  passRate: number | undefined;
  /** Passed and failed on identical inputs. */
  flaky: boolean;
  /** Some one clean migtest commit both passed and failed it: no change of the harness explains the failure. */
  sameCommit: boolean;
  failures: Array<{ runId: string; startedAt: string; commit?: string; error: string; artifacts?: string }>;
}

/**
 * Per inputs (scenario, suite, arch, accel, both sides' QEMU version and binary, placement):
 * the pass rate over the last `last` runs that ran them, and whether they are flaky. The
 * migtest commit is not an input here: a nightly runs a new commit most nights, and a key
 * per commit would never see a scenario twice; `sameCommit` says when the commit cannot
 * be the cause. Pure.
 */
export function flakeRecords(rows: StoredRow[], last = 20): KeyRecord[] {
  const byKey = new Map<string, StoredRow[]>();
  for (const r of rows) {
    const k = inputsKey(r);
    (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(r);
  }
  const out: KeyRecord[] = [];
  for (const group of byKey.values()) {
    // Rows come oldest run first; keep those of the key's last `last` runs.
    const runIds = new Set([...new Set(group.map((r) => r.runId))].slice(-last));
    const recent = group.filter((r) => runIds.has(r.runId));
    const passed = recent.filter((r) => r.outcome === 'passed');
    const failed = recent.filter((r) => r.outcome === 'failed');
    const commitsPassed = new Set(passed.map((r) => r.commit ?? ''));
    const g = group[0]!;
    out.push({
      inputs: { suite: g.suite, scenario: g.scenario, arch: g.arch, accel: g.accel, srcQemu: g.srcQemu, dstQemu: g.dstQemu, srcBinary: g.srcBinary, dstBinary: g.dstBinary, placement: g.placement },
      runs: runIds.size,
      passed: passed.length,
      failed: failed.length,
      passRate: passed.length + failed.length ? passed.length / (passed.length + failed.length) : undefined,
      flaky: passed.length > 0 && failed.length > 0,
      // A tree with uncommitted changes is not one harness: its commit does not count.
      sameCommit: failed.some((r) => r.commit !== undefined && !r.commit.endsWith('+dirty') && commitsPassed.has(r.commit)),
      failures: failed.map((r) => ({
        runId: r.runId,
        startedAt: r.startedAt,
        commit: r.commit,
        error: (r.error ?? 'no error recorded').split('\n')[0]!.slice(0, 300),
        artifacts: r.artifacts && artifactsPath(r.artifacts, r.runDir),
      })),
    });
  }
  return out;
}

/** The flaky keys, the least reliable first. */
export function flakes(rows: StoredRow[], last = 20): KeyRecord[] {
  return flakeRecords(rows, last)
    .filter((k) => k.flaky)
    .sort((a, b) => a.passRate! - b.passRate! || a.inputs.suite.localeCompare(b.inputs.suite) || a.inputs.scenario.localeCompare(b.inputs.scenario));
}
