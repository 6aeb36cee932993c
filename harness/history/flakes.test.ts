import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { metadata, night, row, tmpDir, writeRun } from './fixtures.js';
import { flakeRecords, flakes } from './flakes.js';
import { ingest } from './ingest.js';
import { loadRows, openStore, type Db } from './store.js';

let db: Db | undefined;
afterEach(() => db?.close());

/** Six nights: 'racy' fails on night 2 and 4 (same inputs), 'old-qemu' fails only on 7.2, 'solid' never. */
function store(): { db: Db; root: string } {
  const root = tmpDir();
  for (let i = 0; i < 6; i++) {
    const racy = i === 2 || i === 4 ? row('racy', { outcome: 'failed', error: `dst: heartbeat lost after 30.0s\n  at check (liveness.ts:10)`, artifacts: 'precopy-basic_x86_64_racy' }) : row('racy');
    writeRun(root, metadata(night(i), { commit: i < 3 ? 'c1' : 'c2' }), [racy, row('solid'), row('old-qemu'), row('skipper', { outcome: 'skipped', reason: 'no kvm' })]);
    writeRun(root, metadata(night(i).replace('T02', 'T03'), { qemu: '7.2.22', commit: i < 3 ? 'c1' : 'c2' }), [row('old-qemu', { outcome: 'failed', error: 'refused' })]);
  }
  const d = openStore(join(root, 'h.sqlite'));
  ingest(d, [root]);
  return { db: d, root };
}

describe('history flakes', () => {
  it('a scenario that passed and failed on identical inputs is a flake, with its failures first lines and artifacts paths', () => {
    const s = store();
    db = s.db;
    const found = flakes(loadRows(db), 20);
    expect(found.map((k) => k.inputs.scenario)).toEqual(['racy']);
    const [racy] = found;
    expect(racy).toMatchObject({ runs: 6, passed: 4, failed: 2, flaky: true, sameCommit: true, inputs: { arch: 'x86_64', accel: 'tcg', srcQemu: '11.1.3', dstQemu: '11.1.3', placement: 'local' } });
    expect(racy!.passRate).toBeCloseTo(4 / 6, 12);
    expect(racy!.failures.map((f) => f.error)).toEqual(['dst: heartbeat lost after 30.0s', 'dst: heartbeat lost after 30.0s']);
    expect(racy!.failures[0]!.artifacts).toBe(join(s.root, 'run-2026-01-03T02-00-00-000Z', 'precopy-basic_x86_64_racy'));
  });

  it('failing on other inputs is not a flake (old-qemu fails on 7.2 every time and passes on 11.1); skips are no evidence', () => {
    db = store().db;
    const all = flakeRecords(loadRows(db), 20);
    const old = all.filter((k) => k.inputs.scenario === 'old-qemu').map((k) => [k.inputs.srcQemu, k.passRate, k.flaky]);
    expect(old).toEqual(expect.arrayContaining([['11.1.3', 1, false], ['7.2.22', 0, false]]));
    expect(all.find((k) => k.inputs.scenario === 'skipper')).toMatchObject({ passRate: undefined, flaky: false });
  });

  it('looks at the last N runs of each inputs only', () => {
    db = store().db;
    // Nights 4 and 5: one failure (night 4), one pass: still flaky; the last one run alone is not.
    expect(flakes(loadRows(db), 2).map((k) => [k.inputs.scenario, k.failed, k.passed])).toEqual([['racy', 1, 1]]);
    expect(flakes(loadRows(db), 1)).toEqual([]);
  });
});
