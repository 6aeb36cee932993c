import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScenarioResult } from '../report/results.js';
import { metadata, night, row, tmpDir, writeRun } from './fixtures.js';
import { ingest } from './ingest.js';
import { loadRows, loadRuns, openStore, type Db } from './store.js';
import { chosenRuns, formatSummary, historySummary } from './summary.js';

let db: Db | undefined;
afterEach(() => db?.close());

const failed = (scenario: string, error = `${scenario} broke\n  at somewhere`) => row(scenario, { outcome: 'failed', error });

/**
 * Thirteen nights. 'broke' fails on the last night only; 'brand-new' first runs (and fails)
 * then; 'stuck' fails from night 10 on; 'gap' passes on night 10, is skipped on 11 and fails
 * on 12; 'racy' fails on nights 4 and 8; 'plain's downtime goes from about 50 ms to 80 from
 * night 10; 'solid' always passes.
 */
function store(): { db: Db; root: string; dirs: string[] } {
  const root = tmpDir();
  const dirs: string[] = [];
  for (let i = 0; i < 13; i++) {
    const rows: ScenarioResult[] = [
      row('solid'),
      i === 12 ? failed('broke') : row('broke'),
      i >= 10 ? failed('stuck') : row('stuck'),
      i === 4 || i === 8 ? failed('racy') : row('racy'),
      row('plain', { qemuDowntimeMs: (i >= 10 ? 80 : 50) + (i % 3) }),
      ...(i === 12 ? [failed('brand-new', 'never worked')] : []),
      ...(i === 11 ? [row('gap', { outcome: 'skipped', reason: 'no kvm' })] : i === 12 ? [failed('gap')] : i >= 10 ? [row('gap')] : []),
    ];
    dirs.push(writeRun(root, metadata(night(i), { binary: '/qemu/build/qemu-system-x86_64' }), rows));
  }
  const d = openStore(join(root, 'h.sqlite'));
  ingest(d, [root]);
  return { db: d, root, dirs };
}

describe('history summary', () => {
  it('the latest run: new reds (new or first run), still red since when, flaky ones with their pass rate, worse figures, counts', () => {
    const s = store();
    db = s.db;
    const runs = loadRuns(db);
    const sum = historySummary(loadRows(db), runs, chosenRuns(undefined, runs, 'h.sqlite'));
    expect(sum.runs.map((r) => r.startedAt)).toEqual([night(12)]);
    expect(sum.earlierRuns).toBe(12);
    expect(sum.newReds.map((r) => [r.inputs.scenario, r.status, r.lastPassed?.startedAt, r.error])).toEqual([
      ['brand-new', 'first run', undefined, 'never worked'],
      ['broke', 'new', night(11), 'broke broke'],
      // The skip on night 11 is no evidence: its previous run is night 10, which passed.
      ['gap', 'new', night(10), 'gap broke'],
    ]);
    expect(sum.stillRed.map((r) => [r.inputs.scenario, r.since.startedAt, r.failedRuns, r.lastPassed?.startedAt])).toEqual([['stuck', night(10), 3, night(9)]]);
    // The flakes function's: passed and failed on identical inputs over the last 20 runs, least reliable first.
    expect(sum.flaky.map((k) => [k.inputs.scenario, k.passed, k.failed, k.now])).toEqual([
      ['gap', 1, 1, 'failed'],
      ['stuck', 10, 3, 'failed'],
      ['racy', 11, 2, 'passed'],
      ['broke', 12, 1, 'failed'],
    ]);
    expect(sum.regressions.map((f) => [f.row.scenario, f.figure.name, f.direction, f.moved.startedAt])).toEqual([['plain', 'qemuDowntimeMs', 'worse', night(10)]]);
    expect(sum.counts).toEqual({ rows: 7, passed: 3, failed: 4, skipped: 0 });

    const md = formatSummary(sum);
    const order = ['### New reds', '### Still red', '### Flaky', '### Regressions'].map((h) => md.indexOf(h));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    expect(md).toContain('- `precopy-basic: brand-new` (x86_64, tcg, QEMU 11.1.3->11.1.3): first run: `never worked`');
    expect(md).toMatch(/- `precopy-basic: broke` \(x86_64, tcg, QEMU 11\.1\.3->11\.1\.3\): new, passed in `[^`]+` \(2026-01-12 02:00\): `broke broke`/);
    expect(md).toMatch(/- `precopy-basic: stuck` .*: red since `[^`]+` \(2026-01-11 02:00\), 3 runs: `stuck broke`/);
    expect(md).toMatch(/- `precopy-basic: racy` .*: passed 11\/13 \(85%\) of its last 13 runs, passed here; one migtest commit both passed and failed/);
    expect(md).toMatch(/- `precopy-basic: plain` .*: QEMU downtime 5\d\.0 -> 8\d\.0 ms \(\+\d+%, p 0\.007\), moved in `[^`]+` \(2026-01-11 02:00\)/);
    expect(md.split('\n').at(-1)).toBe('7 rows: 3 passed, 4 failed (2 new, 1 first run, 1 still red), 0 skipped; 4 flaky; 1 regression.');
  });

  it('an earlier run reads as it did that night; empty sections say none', () => {
    const s = store();
    db = s.db;
    const runs = loadRuns(db);
    const rows = loadRows(db);
    // Night 10, named by its run directory: 'stuck' was a new red then; racy (9 of 11) less reliable than stuck (10 of 11).
    const ten = historySummary(rows, runs, chosenRuns([s.dirs[10]!], runs, 'h.sqlite'));
    expect(ten.runs.map((r) => r.startedAt)).toEqual([night(10)]);
    expect(ten.newReds.map((r) => [r.inputs.scenario, r.status])).toEqual([['stuck', 'new']]);
    expect(ten.stillRed).toEqual([]);
    expect(ten.flaky.map((k) => k.inputs.scenario)).toEqual(['racy', 'stuck']);

    const first = formatSummary(historySummary(rows, runs, [runs[0]!.id]));
    expect(first).toContain('after 0 earlier runs in the store.');
    for (const h of ['New reds', 'Still red', 'Flaky', 'Regressions']) expect(first).toContain(`### ${h}\n\nnone\n`);
    expect(first.split('\n').at(-1)).toBe('5 rows: 5 passed, 0 failed (0 new, 0 first run, 0 still red), 0 skipped; 0 flaky; 0 regressions.');
  });

  it('several runs at once (a nightly and its newest-QEMU pass); a run the store lacks is bad input', () => {
    const s = store();
    db = s.db;
    const newest = writeRun(s.root, metadata(night(12).replace('T02', 'T04'), { qemu: '11.2.0', command: ['migtest', 'run', '--rotation', '1/4', '--qemu', 'newest'] }), [failed('broke', 'on 11.2 too'), row('solid')]);
    ingest(db, [newest]);
    const runs = loadRuns(db);
    const ids = chosenRuns([s.dirs[12]!, newest], runs, 'h.sqlite');
    expect(ids).toHaveLength(2);
    const sum = historySummary(loadRows(db), runs, ids);
    expect(sum.newReds.map((r) => [r.inputs.scenario, r.inputs.srcQemu, r.status])).toEqual([
      ['brand-new', '11.1.3', 'first run'],
      ['broke', '11.1.3', 'new'],
      ['broke', '11.2.0', 'first run'],
      ['gap', '11.1.3', 'new'],
    ]);
    expect(formatSummary(sum)).toContain('- `precopy-basic: broke` (x86_64, tcg, QEMU 11.2.0->11.2.0) in `');
    expect(() => chosenRuns(['20990101T000000Z-nowhere-00000000'], runs, 'h.sqlite')).toThrow(/invalid --run: '20990101T000000Z-nowhere-00000000' is neither a run in h\.sqlite nor a file or folder/);
    const stray = writeRun(tmpDir(), metadata(night(20)), [row('solid')]);
    expect(() => chosenRuns([stray], runs, 'h.sqlite')).toThrow(/invalid --run: '.*results\.json' is run .* which is not in h\.sqlite/);
  });
});
