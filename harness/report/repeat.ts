import type { ScenarioResult } from './results.js';

/** The figures whose spread a repeated run reports. */
const FIGURES = {
  wallMs: (r: ScenarioResult) => r.wallMs,
  qemuTotalTimeMs: (r: ScenarioResult) => r.qemuTotalTimeMs,
  qemuDowntimeMs: (r: ScenarioResult) => r.qemuDowntimeMs,
  guestDowntimeMs: (r: ScenarioResult) => r.guestDowntimeMs,
  throughputMbps: (r: ScenarioResult) => r.throughputMbps,
  postcopyBlocktimeMs: (r: ScenarioResult) => r.postcopyBlocktimeMs,
  failureToRecoveredMs: (r: ScenarioResult) => r.recovery?.failureToRecoveredMs,
} as const;

export interface Spread {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** One scenario over the repetitions: how often it passed, how its figures spread, how it failed. */
export interface RepeatedScenario {
  suite: string;
  scenario: string;
  arch?: string;
  runs: number;
  passed: number;
  failed: number;
  skipped: number;
  /** passed / (passed + failed): skips are not evidence either way. */
  passRate: number | undefined;
  figures: Partial<Record<keyof typeof FIGURES, Spread>>;
  /** Each failure's first error line and its artifacts directory, by repetition (1-based). */
  failures: Array<{ repetition: number; error?: string; artifacts?: string }>;
}

export function spread(values: number[]): Spread | undefined {
  if (!values.length) return undefined;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return { n: v.length, min: v[0]!, median: v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, max: v.at(-1)! };
}

/** Rows of each repetition (index 0 = repetition 1) -> one summary per scenario and arch. Pure. */
export function summarizeRepeats(repetitions: ScenarioResult[][]): RepeatedScenario[] {
  const by = new Map<string, { rows: Array<[number, ScenarioResult]> }>();
  repetitions.forEach((rows, i) =>
    rows.forEach((r) => {
      const key = `${r.suite}\u0000${r.scenario}\u0000${r.arch ?? ''}`;
      const e = by.get(key) ?? { rows: [] };
      e.rows.push([i + 1, r]);
      by.set(key, e);
    }),
  );
  return [...by.values()].map(({ rows }) => {
    const first = rows[0]![1];
    const count = (o: ScenarioResult['outcome']) => rows.filter(([, r]) => r.outcome === o).length;
    const [passed, failed, skipped] = [count('passed'), count('failed'), count('skipped')];
    const measured = rows.filter(([, r]) => r.outcome === 'passed').map(([, r]) => r);
    const figures: RepeatedScenario['figures'] = {};
    for (const [name, get] of Object.entries(FIGURES) as Array<[keyof typeof FIGURES, (r: ScenarioResult) => number | undefined]>) {
      const s = spread(measured.map(get).filter((x): x is number => typeof x === 'number'));
      if (s) figures[name] = s;
    }
    return {
      suite: first.suite,
      scenario: first.scenario,
      arch: first.arch,
      runs: rows.length,
      passed,
      failed,
      skipped,
      passRate: passed + failed ? passed / (passed + failed) : undefined,
      figures,
      failures: rows.filter(([, r]) => r.outcome === 'failed').map(([repetition, r]) => ({ repetition, error: r.error?.split('\n')[0], artifacts: r.artifacts })),
    };
  });
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));

/** The summary as text: a line per scenario, its figures' min / median / max, its failures. */
export function formatRepeats(summary: RepeatedScenario[]): string {
  const out: string[] = [];
  for (const s of summary) {
    const rate = s.passRate === undefined ? 'no verdict' : `${Math.round(s.passRate * 100)}% passed`;
    out.push(`${s.suite} ${s.arch ?? ''} ${s.scenario}: ${s.passed}/${s.passed + s.failed} ${rate}${s.skipped ? `, ${s.skipped} skipped` : ''}`);
    for (const [name, f] of Object.entries(s.figures)) out.push(`    ${name.padEnd(22)} min ${fmt(f.min)}  median ${fmt(f.median)}  max ${fmt(f.max)}  (n=${f.n})`);
    for (const f of s.failures) out.push(`    failed in repetition ${f.repetition}: ${f.error ?? '(no error)'}${f.artifacts ? `\n      artifacts: ${f.artifacts}` : ''}`);
  }
  return out.join('\n');
}
