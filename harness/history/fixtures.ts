import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunMetadata } from '../report/metadata.js';
import type { ScenarioResult } from '../report/results.js';

/**
 * Synthetic results.json files for the history tests, shaped as `migtest run` writes them
 * (runDir, metadata, results): the tests never need a QEMU to have run.
 */
export const tmpDir = (prefix = 'migtest-history-') => mkdtempSync(join(tmpdir(), prefix));

export function metadata(startedAt: string, o: { qemu?: string; binary?: string; commit?: string; hostname?: string; command?: string[] } = {}): RunMetadata {
  const v = o.qemu ?? '11.1.3';
  const path = o.binary ?? `/root/.cache/migtest/qemu/${v.split('.').slice(0, 2).join('.')}/bin/qemu-system-x86_64`;
  return {
    migtest: { version: '0.1.0', commit: o.commit ?? 'aaaaaaaaaaaa', dirty: false },
    command: o.command ?? ['migtest', 'run', 'precopy-basic'],
    startedAt,
    endedAt: new Date(Date.parse(startedAt) + 60_000).toISOString(),
    host: { hostname: o.hostname ?? 'ci-1', kernel: 'Linux 6.1 x64' },
    accel: [{ arch: 'x86_64', accel: 'tcg', why: 'no /dev/kvm' }],
    qemu: [
      { arch: 'x86_64', side: 'source', version: v, source: 'cache', path },
      { arch: 'x86_64', side: 'destination', version: v, source: 'cache', path },
    ],
    images: [{ arch: 'x86_64', image: 'default-x86_64-0123456789abcdef' }],
  };
}

export const row = (scenario: string, o: Partial<ScenarioResult> = {}): ScenarioResult => ({ suite: 'precopy-basic', scenario, arch: 'x86_64', outcome: 'passed', wallMs: 9000, ...o });

/** The i-th night, 02:00 UTC from 2026-01-01. */
export const night = (i: number) => new Date(Date.UTC(2026, 0, 1 + i, 2)).toISOString();

/** A run directory as migtest run leaves it (artifacts/run-<time>/results.json); returns the directory. */
export function writeRun(root: string, meta: RunMetadata | undefined, results: ScenarioResult[], extra: Record<string, unknown> = {}): string {
  const dir = join(root, `run-${(meta?.startedAt ?? night(0)).replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ runDir: dir, ...(meta ? { metadata: meta } : {}), ...extra, results }, null, 2)}\n`);
  return dir;
}
