import { describe, expect, it } from 'vitest';
import { formatRepeats, spread, summarizeRepeats } from './repeat.js';
import type { ScenarioResult } from './results.js';

const row = (outcome: ScenarioResult['outcome'], more: Partial<ScenarioResult> = {}): ScenarioResult => ({ suite: 's', scenario: 'x', arch: 'x86_64', outcome, wallMs: 1000, ...more });

describe('repeated runs', () => {
  it('spread: min, median (even and odd counts), max', () => {
    expect(spread([3, 1, 2])).toEqual({ n: 3, min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ n: 4, min: 1, median: 2.5, max: 4 });
    expect(spread([])).toBeUndefined();
  });

  it('pass rate over passes and failures (skips are no evidence), figures of passing runs only, failures by repetition', () => {
    const s = summarizeRepeats([
      [row('passed', { qemuDowntimeMs: 10 }), row('passed', { scenario: 'y' })],
      [row('failed', { qemuDowntimeMs: 999, error: 'boom\nmore', artifacts: '/a/2' })],
      [row('passed', { qemuDowntimeMs: 30 }), row('skipped', { scenario: 'y' })],
    ]);
    const x = s.find((r) => r.scenario === 'x')!;
    expect(x).toMatchObject({ runs: 3, passed: 2, failed: 1, passRate: 2 / 3 });
    expect(x.figures.qemuDowntimeMs).toEqual({ n: 2, min: 10, median: 20, max: 30 });
    expect(x.failures).toEqual([{ repetition: 2, error: 'boom', artifacts: '/a/2' }]);
    expect(s.find((r) => r.scenario === 'y')).toMatchObject({ passed: 1, skipped: 1, passRate: 1 });
    expect(formatRepeats(s)).toMatch(/x: 2\/3 67% passed[\s\S]*qemuDowntimeMs\s+min 10\.0\s+median 20\.0\s+max 30\.0[\s\S]*failed in repetition 2: boom/);
  });
});
