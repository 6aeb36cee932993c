import Database from 'better-sqlite3';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../util/errors.js';
import { metadata, night, row, tmpDir, writeRun } from './fixtures.js';
import { ingest, ingestLine } from './ingest.js';
import { historyTarget, loadRows, loadRuns, openStore, type Db } from './store.js';

let db: Db | undefined;
afterEach(() => db?.close());

describe('history ingest', () => {
  it('is idempotent: the same run by file, by directory or by a copy elsewhere is one run', () => {
    const root = tmpDir();
    const dirs = [0, 1, 2].map((i) => writeRun(root, metadata(night(i)), [row('plain', { qemuDowntimeMs: 40 + i }), row('other', { outcome: 'failed', error: 'boom\nstack' })]));
    db = openStore(join(root, 'h.sqlite'));
    const first = ingest(db, [root]);
    expect(first).toMatchObject({ rows: 6, files: 3 });
    expect(first.added).toHaveLength(3);
    expect(ingestLine(first, 'h.sqlite')).toBe('ingested 3 runs (0 already known), 6 new rows into h.sqlite');
    // Again: by directory, by file, and a CI download of the same results.json elsewhere.
    const copy = join(root, 'download');
    mkdirSync(copy);
    cpSync(join(dirs[1]!, 'results.json'), join(copy, 'results.json'));
    const again = ingest(db, [dirs[0]!, join(dirs[2]!, 'results.json'), copy]);
    expect(again).toMatchObject({ added: [], rows: 0 });
    expect(again.known).toHaveLength(3);
    expect(loadRuns(db)).toHaveLength(3);
    expect(loadRows(db)).toHaveLength(6);
  });

  it("keys each row by its inputs: arch, accel, both sides' QEMU and binary, placement; the run's commit and time", () => {
    const root = tmpDir();
    writeRun(root, { ...metadata(night(0), { qemu: '7.2.22', commit: 'c0ffee' }), hostsFile: '/etc/migtest/hosts.yaml' }, [row('plain'), row('cell', { extra: { qemu: '10.0.2->11.1.3' } })]);
    db = openStore(join(root, 'h.sqlite'));
    ingest(db, [root]);
    const [plain, cell] = loadRows(db);
    expect(plain).toMatchObject({ arch: 'x86_64', accel: 'tcg', srcQemu: '7.2.22', dstQemu: '7.2.22', srcBinary: '/root/.cache/migtest/qemu/7.2/bin/qemu-system-x86_64', placement: 'two-host', commit: 'c0ffee', startedAt: night(0) });
    // A matrix cell's own QEMU versions win; the run's binary is not its binary.
    expect(cell).toMatchObject({ srcQemu: '10.0.2', dstQemu: '11.1.3', srcBinary: '', dstBinary: '' });
  });

  it('takes merged CI results (no runDir) and old files without metadata; ids from metadata, the run directory, or the content', () => {
    const root = tmpDir();
    const merged = join(root, 'merged');
    mkdirSync(merged);
    writeFileSync(join(merged, 'results.json'), JSON.stringify({ metadata: metadata(night(5)), shards: [{ from: 'a', rows: 1 }], results: [row('plain')] }));
    const legacy = writeRun(root, undefined, [row('plain')], { accel: 'kvm', arches: ['x86_64'] });
    writeFileSync(join(root, 'bare.json'), JSON.stringify({ results: [row('plain')] }));
    db = openStore(join(root, 'h.sqlite'));
    const s = ingest(db, [merged, legacy, join(root, 'bare.json')]);
    expect(s.added).toEqual([expect.stringMatching(/^20260106T020000Z-ci-1-[0-9a-f]{8}$/), 'run-2026-01-01T02-00-00-000Z', expect.stringMatching(/^file-[0-9a-f]{8}$/)]);
    expect(loadRows(db).find((r) => r.runId === 'run-2026-01-01T02-00-00-000Z')).toMatchObject({ accel: 'kvm', startedAt: night(0) });
  });

  it('refuses a bad file, naming the file and the field, and adds nothing from the batch', () => {
    const root = tmpDir();
    const good = writeRun(root, metadata(night(0)), [row('plain')]);
    const cases: Array<[unknown, RegExp]> = [
      [{ results: [row('a'), { ...row('b'), outcome: 'maybe' }] }, /bad\.json: results\[1\]\.outcome: "maybe"; allowed: passed, failed, skipped/],
      [{ results: [row('a', { qemuDowntimeMs: '45' as unknown as number })] }, /bad\.json: results\[0\]\.qemuDowntimeMs: "45" is not a number/],
      [{ results: [{ ...row('a'), scenario: '' }] }, /bad\.json: results\[0\]\.scenario: is missing/],
      [{ metadata: { ...metadata(night(1)), startedAt: 'yesterday' }, results: [] }, /bad\.json: metadata\.startedAt: "yesterday" is not a time/],
      [{ rows: [] }, /bad\.json: results: is missing or not a list/],
    ];
    db = openStore(join(root, 'h.sqlite'));
    for (const [content, message] of cases) {
      writeFileSync(join(root, 'bad.json'), JSON.stringify(content));
      expect(() => ingest(db!, [good, join(root, 'bad.json')])).toThrow(message);
    }
    writeFileSync(join(root, 'bad.json'), '{"results": [');
    expect(() => ingest(db!, [join(root, 'bad.json')])).toThrow(ConfigError);
    expect(() => ingest(db!, [join(root, 'nowhere')])).toThrow(/'.*nowhere' does not exist/);
    expect(loadRuns(db)).toEqual([]);
  });

  it('migrates by user_version, and refuses a newer store or a file that is not one', () => {
    const root = tmpDir();
    const path = join(root, 'h.sqlite');
    openStore(path).close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    raw.pragma('user_version = 7');
    raw.close();
    expect(() => openStore(path)).toThrow(/schema version 7, newer than this migtest's 1/);
    writeFileSync(join(root, 'junk.sqlite'), 'not a database, just text '.repeat(100));
    expect(() => openStore(join(root, 'junk.sqlite'))).toThrow(/is not a migtest history store/);
    expect(() => openStore(root)).toThrow(/is a directory/);
  });

  it('run --history: a flag means the default store, a value a path, MIGTEST_HISTORY_DB without the flag; a bad path is bad input, and nothing is made', () => {
    const root = tmpDir();
    const env = { MIGTEST_HISTORY_DB: join(root, 'env.sqlite') };
    expect(historyTarget(undefined, {})).toBeUndefined();
    expect(historyTarget(undefined, env)).toBe(env.MIGTEST_HISTORY_DB);
    expect(historyTarget(true, env)).toBe(env.MIGTEST_HISTORY_DB);
    expect(historyTarget(join(root, 'new', 'h.sqlite'), env)).toBe(join(root, 'new', 'h.sqlite'));
    expect(() => historyTarget(root, {})).toThrow(/invalid --history: .* is a directory/);
    writeFileSync(join(root, 'file'), '');
    expect(() => historyTarget(join(root, 'file', 'h.sqlite'), {})).toThrow(/invalid --history: .*cannot be made/);
    expect(() => loadRuns(new Database(join(root, 'new', 'h.sqlite'), { fileMustExist: true }))).toThrow();
  });
});
