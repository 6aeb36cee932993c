import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { figureByName } from './figures.js';
import { metadata, night, row, tmpDir, writeRun } from './fixtures.js';
import { ingest } from './ingest.js';
import { detectShift, regressions } from './regressions.js';
import { seededRandom } from './stats.js';
import { loadRows, openStore, type Db } from './store.js';

let db: Db | undefined;
afterEach(() => db?.close());

const downtime = figureByName('qemuDowntimeMs')!;
const throughput = figureByName('throughputMbps')!;

/** A noisy figure as TCG gives it: log-normal spread (about 15%), and now and then a run on a busy host 1.5x slower. */
function noisy(rand: () => number, centre: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return centre * Math.exp(0.15 * z) * (rand() < 0.08 ? 1.5 : 1);
}

describe('history regressions', () => {
  it('finds 3 slower runs after 10 stable ones, at the first slower run, through the store', () => {
    const root = tmpDir();
    const rand = seededRandom(7);
    for (let i = 0; i < 13; i++) {
      const slow = i >= 10;
      const qemu = slow ? '11.2.0' : '11.1.3';
      writeRun(root, metadata(night(i), { qemu, commit: 'c1' }), [row('plain', { qemuDowntimeMs: (slow ? 80 : 50) + rand() * 6, throughputMbps: 800 + rand() * 40 })]);
    }
    db = openStore(join(root, 'h.sqlite'));
    ingest(db, [root]);
    // The QEMU changed version in the same cache slot (binary path 11.1 -> 11.2 differs): key by slot, so give both one path.
    const rows = loadRows(db).map((r) => ({ ...r, srcBinary: 'qemu-main', dstBinary: 'qemu-main' }));
    const r = regressions(rows);
    expect(r.findings).toHaveLength(1);
    const [f] = r.findings;
    expect(f).toMatchObject({ figure: { name: 'qemuDowntimeMs' }, direction: 'worse', method: 'exact', moved: { startedAt: night(10), qemu: '11.2.0->11.2.0' }, previous: { qemu: '11.1.3->11.1.3' } });
    expect(f!.p).toBeCloseTo(2 / 286, 10); // every slow value above every stable one: the smallest exact p for 10 vs 3
    expect(f!.before.median).toBeGreaterThan(50);
    expect(f!.after.median).toBeGreaterThan(80);
    expect(f!.change).toBeGreaterThan(0.4);
  });

  it('the change point is the split with the most significant U, even with repeated values per run', () => {
    const runs = [...Array.from({ length: 8 }, (_, i) => [100 + i, 103 - i]), [140, 141], [139, 145], [150, 142]];
    expect(detectShift(runs, downtime)).toMatchObject({ movedAt: 8, direction: 'worse' });
  });

  it('a drop in throughput is a regression; a drop in downtime an improvement', () => {
    const base = Array.from({ length: 10 }, (_, i) => [800 + (i % 3) * 10]);
    expect(detectShift([...base, [600], [610], [590]], throughput)).toMatchObject({ direction: 'worse', movedAt: 10 });
    expect(detectShift([...base.map(([v]) => [v! / 10]), [40], [41], [42]], downtime)).toMatchObject({ direction: 'better' });
  });

  it('no alarm for changes too small to matter, however significant: under 10%, within the spread, or under the floor', () => {
    const base = Array.from({ length: 10 }, (_, i) => [1000 + i]);
    expect(detectShift([...base, [1060], [1061], [1062]], downtime)).toBeUndefined(); // +5%
    const wide = Array.from({ length: 10 }, (_, i) => [i % 2 ? 60 : 100]);
    expect(detectShift([...wide, [115], [116], [117]], downtime)).toBeUndefined(); // +45% but within a 40 ms IQR
    expect(detectShift([...Array.from({ length: 10 }, () => [3]), [5], [5], [5]], downtime)).toBeUndefined(); // +67%, 2 ms
    expect(detectShift([[50], [51], [90], [91], [92]], downtime)).toBeUndefined(); // too little history
  });

  it('no alarm across 30 noisy stable runs, checked after each one as a nightly would', () => {
    const rand = seededRandom(2026);
    const runs = Array.from({ length: 30 }, () => [noisy(rand, 50)]);
    const alarms = runs.map((_, n) => n + 1).filter((n) => n >= 13 && detectShift(runs.slice(0, n), downtime));
    expect(alarms).toEqual([]);
  });

  it('false alarms over 200 random stable series stay under 5%', () => {
    const rand = seededRandom(42);
    let [checks, alarms, seriesWithAlarm] = [0, 0, 0];
    for (let s = 0; s < 200; s++) {
      const centre = 20 + rand() * 500;
      // A third of the series are --repeat 3 runs (three values per run).
      const per = s % 3 === 0 ? 3 : 1;
      const runs = Array.from({ length: 30 }, () => Array.from({ length: per }, () => noisy(rand, centre)));
      let any = false;
      for (let n = 13; n <= 30; n++) {
        checks++;
        if (detectShift(runs.slice(0, n), downtime)) [alarms, any] = [alarms + 1, true];
      }
      if (any) seriesWithAlarm++;
    }
    const perCheck = alarms / checks;
    const perSeries = seriesWithAlarm / 200;
    process.stdout.write(`false alarms: ${alarms} of ${checks} nightly checks (${(perCheck * 100).toFixed(2)}%); ${seriesWithAlarm} of 200 series alarmed at least once in 18 nights (${(perSeries * 100).toFixed(1)}%)\n`);
    expect(perCheck).toBeLessThan(0.05);
    expect(perSeries).toBeLessThan(0.05);
  });
});
