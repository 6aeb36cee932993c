import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../util/paths.js';

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  strategy?: { 'fail-fast'?: boolean; matrix?: { shard?: number[] } };
  steps: Step[];
}

// The nightly workflow is not run here: its structure is what can be checked, so a broken
// edit (a shard lost, the merge no longer covering every shard) fails a unit test.
describe('ci/github/nightly.yml', () => {
  const wf = parse(readFileSync(join(repoRoot, 'ci/github/nightly.yml'), 'utf8')) as { on: Record<string, unknown>; env: { SHARDS: number }; jobs: Record<string, Job> };
  const shard = wf.jobs.shard!;
  const merge = wf.jobs.merge!;
  const runs = (j: Job) => j.steps.map((s) => s.run ?? '').join('\n');
  const shardScript = readFileSync(join(repoRoot, 'ci/github/shard.sh'), 'utf8');

  it('runs nightly and on demand', () => {
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(['schedule', 'workflow_dispatch']));
  });

  it('shards 1..n, each to the end (fail-fast off), with n the one --shard uses', () => {
    const n = wf.env.SHARDS;
    expect(shard.strategy!.matrix!.shard).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(shard.strategy!['fail-fast']).toBe(false);
    expect(runs(shard)).toContain('bash ci/github/shard.sh ${{ matrix.shard }} ${{ env.SHARDS }}');
    expect(shardScript).toMatch(/--shard "\$\{shard\}\/\$\{total\}"/);
  });

  it('enables KVM with a udev rule before anything runs, and passes /dev/kvm on', () => {
    expect(shard.steps[0]!.run).toMatch(/KERNEL=="kvm".*MODE="0666"[\s\S]*udevadm trigger --name-match=kvm/);
    expect(runs(shard)).toContain('--device /dev/kvm');
  });

  it("sets up with the README's command", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain('sudo bash ci/setup.sh');
    expect(shardScript).toMatch(/^bash ci\/setup\.sh$/m);
  });

  it('each shard writes results, JUnit and a blob report; uploads them always and its artifacts on failure', () => {
    expect(shardScript).toMatch(/--results out\/results\.json --blob "out\/blob-\$\{shard\}\.json"/);
    const up = shard.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(up.find((s) => s.if === 'always()')!.with!.path).toMatch(/out\/results\.json[\s\S]*out\/junit\.xml[\s\S]*out\/blob-\$\{\{ matrix\.shard \}\}\.json[\s\S]*out\/newest\//);
    expect(up.find((s) => s.if === 'failure()')!.with!.path).toBe('artifacts/');
  });

  it("each shard then runs its share of the rotation on the newest QEMU, in a folder of its own, and fails if either pass did", () => {
    const main = shardScript.indexOf('run --all --shard');
    const newest = shardScript.indexOf('run --rotation "${shard}/${total}" --qemu newest --results out/newest/results.json');
    expect(main).toBeGreaterThan(0);
    expect(newest).toBeGreaterThan(main);
    // A run writes junit.xml, summary.md and report.html beside its results: not over the main pass's.
    expect(shardScript).toMatch(/^mkdir -p out\/newest$/m);
    // The first pass's failure does not stop the second (set -e), and the exit code keeps it.
    expect(shardScript).toMatch(/--blob "out\/blob-\$\{shard\}\.json" \|\| main=\$\?$/m);
    expect(shardScript).toMatch(/--qemu newest .* \|\| newest=\$\?$/m);
    expect(shardScript.trimEnd().split('\n').at(-1)).toBe('exit $((main ? main : newest))');
  });

  it('the merge job runs after every shard, even failed ones, and merges blobs, results and the step summary', () => {
    expect(merge.needs).toBe('shard');
    expect(merge.if).toBe('always()');
    const r = runs(merge);
    expect(r).toMatch(/vitest run --merge-reports --reporter=junit/);
    expect(r).toContain('node bin/migtest.mjs report merge shards/results-* --out merged');
    // The newest-QEMU pass on its own: one merge would fold its rows into the main pass's.
    expect(r).toContain('node bin/migtest.mjs report merge shards/results-*/newest --out merged-newest');
    expect(r).toContain('cat merged/summary.md >> "$GITHUB_STEP_SUMMARY"');
    const down = merge.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
    expect(down.with!.pattern).toBe('results-*');
  });

  describe('the history store', () => {
    const at = (f: (s: Step) => boolean) => {
      const i = merge.steps.findIndex(f);
      if (i < 0) throw new Error(`no such step in the merge job: ${f.toString()}`);
      return i;
    };
    const mergeAt = at((s) => !!s.run?.includes('report merge shards/results-* --out merged'));
    const newestAt = at((s) => !!s.run?.includes('--out merged-newest'));
    const restoreAt = at((s) => s.uses === 'actions/cache/restore@v4');
    const ingestAt = at((s) => !!s.run?.includes('history ingest'));
    const saveAt = at((s) => s.uses === 'actions/cache/save@v4');
    const historySummaryAt = at((s) => !!s.run?.includes('history summary'));
    const summaryAt = at((s) => s.run === 'cat merged/summary.md >> "$GITHUB_STEP_SUMMARY"');
    const db = 'history/history.sqlite';

    it('is restored from the newest cache entry and saved under a new key each run, even on a red night', () => {
      const [restore, save] = [merge.steps[restoreAt]!, merge.steps[saveAt]!];
      expect(restore.with).toMatchObject({ path: db, 'restore-keys': 'migtest-history-' });
      expect(save.with!.path).toBe(db);
      expect(save.with!.key).toMatch(/^migtest-history-.*\$\{\{ github\.run_id \}\}/);
      expect(restore.with!.key).toBe(save.with!.key);
      expect(restore.if).toBe('always()');
      expect(save.if).toMatch(/^always\(\)/);
      expect(restoreAt).toBeLessThan(ingestAt);
      expect(saveAt).toBeGreaterThan(ingestAt);
    });

    it("takes both merges' results after they ran, whatever they exited with", () => {
      expect(merge.steps[ingestAt]!.run).toBe(`node bin/migtest.mjs history ingest merged*/results.json --db ${db}`);
      expect(ingestAt).toBeGreaterThan(Math.max(mergeAt, newestAt));
      // report merge exits 1 on a red night: every step after it must still run.
      for (const s of merge.steps.slice(mergeAt)) expect(s.if ?? '').toMatch(/^always\(\)/);
    });

    it("the step summary starts with the history's summary of tonight's runs, then the merged report", () => {
      expect(merge.steps[historySummaryAt]!.run).toBe(`node bin/migtest.mjs history summary --db ${db} --run merged*/results.json >> "$GITHUB_STEP_SUMMARY"`);
      expect(historySummaryAt).toBeGreaterThan(ingestAt);
      expect(historySummaryAt).toBeLessThan(summaryAt);
      expect(merge.steps.findIndex((s) => !!s.run?.includes('$GITHUB_STEP_SUMMARY'))).toBe(historySummaryAt);
    });

    it('is uploaded with the merged reports', () => {
      const up = merge.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
      expect(String(up.with!.path).split('\n')).toEqual(expect.arrayContaining(['merged/', 'merged-newest/', db]));
      expect(up.if).toBe('always()');
    });
  });

  it('pins every action to a major version', () => {
    for (const j of Object.values(wf.jobs)) for (const s of j.steps) if (s.uses) expect(s.uses).toMatch(/^actions\/[\w-]+(\/[\w-]+)?@v\d+$/);
  });
});
