import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHtml } from '../report/html.js';
import { sparkline } from '../report/svg.js';
import { metadata, night, row, tmpDir, writeRun } from './fixtures.js';
import { historySection } from './html.js';
import { ingest } from './ingest.js';
import { recordRun } from './record.js';
import { loadRows, loadRuns, openStore, type Db } from './store.js';

let db: Db | undefined;
afterEach(() => db?.close());

/** 13 nights: 'plain' slows down on the last 3; 'racy' fails on night 5. */
function nights(root: string, n = 13): string[] {
  return Array.from({ length: n }, (_, i) =>
    writeRun(root, metadata(night(i)), [
      row('plain', { qemuDowntimeMs: (i >= 10 ? 90 : 50) + (i % 4), guestDowntimeMs: 300 + (i % 5) }),
      i === 5 ? row('racy', { outcome: 'failed', error: 'lost <guest>', artifacts: 'racy' }) : row('racy', { qemuDowntimeMs: 40 }),
    ]),
  );
}

describe('report.html history section', () => {
  it('a sparkline per scenario and figure of the run, the moved ones first and flagged; then the flake table; all escaped', () => {
    const root = tmpDir();
    nights(root);
    db = openStore(join(root, 'h.sqlite'));
    ingest(db, [root]);
    const rows = loadRows(db);
    const html = historySection(rows, rows.at(-1)!.runId, { db: 'h.sqlite' });
    expect(html).toContain('13 runs in <code>h.sqlite</code>. 1 figure moved');
    const moved = html.slice(html.indexOf('<h3>Moved</h3>'), html.indexOf('<details>'));
    expect(moved).toContain('precopy-basic: plain');
    expect(moved).toMatch(/worse \+\d+%, p=0\.007, moved at 20260111T020000Z-ci-1-/);
    expect(moved).toContain('fill="#dc2626"'); // the last point marked red
    expect(html).toContain('Steady trends (2)'); // guest downtime of plain, downtime of racy
    expect(html).toContain('<h3>Flaky scenarios</h3>');
    expect(html).toContain('lost &lt;guest&gt;');
    expect(html).not.toMatch(/<script|src="http/);
  });

  it('goes into report.html after the failures', () => {
    const html = toHtml([row('bad', { outcome: 'failed', error: 'x' })], { sections: ['<h2 id="history">History</h2>'] });
    expect(html.indexOf('id="failures"')).toBeLessThan(html.indexOf('id="history"'));
    expect(html.indexOf('id="history"')).toBeLessThan(html.indexOf('All scenarios'));
  });

  it("a run's end: its results.json into the store (once), and the section from everything there", () => {
    const root = tmpDir();
    const dirs = nights(root, 4);
    const path = join(root, 'h.sqlite');
    for (const d of dirs) recordRun(path, join(d, 'results.json'));
    const again = recordRun(path, join(dirs.at(-1)!, 'results.json'));
    expect(again.line).toBe(`history: ingested 1 run (1 already known), 0 new rows into ${path}`);
    expect(again.html).toContain('4 runs in');
    expect(again.html).toContain('<svg');
    db = openStore(path);
    expect(loadRuns(db)).toHaveLength(4);
  });

  it('sparkline: one point per run, the last marked; a flat series draws mid-height', () => {
    const svg = sparkline([1, 2, 3], { title: 'a <b>' });
    expect(svg).toContain('points="3.0,25.0 80.0,14.0 157.0,3.0"');
    expect(svg).toContain('a &lt;b&gt;: 3 runs, 1 to 3');
    expect(sparkline([5, 5], { title: 't' })).toContain('points="3.0,14.0 157.0,14.0"');
  });
});
