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
    expect(up.find((s) => s.if === 'always()')!.with!.path).toMatch(/out\/results\.json[\s\S]*out\/junit\.xml[\s\S]*out\/blob-\$\{\{ matrix\.shard \}\}\.json/);
    expect(up.find((s) => s.if === 'failure()')!.with!.path).toBe('artifacts/');
  });

  it('the merge job runs after every shard, even failed ones, and merges blobs, results and the step summary', () => {
    expect(merge.needs).toBe('shard');
    expect(merge.if).toBe('always()');
    const r = runs(merge);
    expect(r).toMatch(/vitest run --merge-reports --reporter=junit/);
    expect(r).toContain('node bin/migtest.mjs report merge shards/results-* --out merged');
    expect(r).toContain('cat merged/summary.md >> "$GITHUB_STEP_SUMMARY"');
    const down = merge.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
    expect(down.with!.pattern).toBe('results-*');
  });

  it('pins every action to a major version', () => {
    for (const j of Object.values(wf.jobs)) for (const s of j.steps) if (s.uses) expect(s.uses).toMatch(/^actions\/[\w-]+@v\d+$/);
  });
});
