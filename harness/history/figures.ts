import type { ScenarioResult } from '../report/results.js';

/**
 * The figures history tracks: the ones a results.json row carries that say how well a
 * migration went. `worse` says which way is a regression; `minAbs` is the smallest change
 * worth a word (a downtime of 3 ms going to 4 ms is +33% and means nothing).
 */
export const FIGURES = [
  { name: 'qemuDowntimeMs', label: 'QEMU downtime', unit: 'ms', worse: 'up', minAbs: 5, of: (r: ScenarioResult) => r.qemuDowntimeMs },
  { name: 'guestDowntimeMs', label: 'guest downtime', unit: 'ms', worse: 'up', minAbs: 5, of: (r: ScenarioResult) => r.guestDowntimeMs },
  { name: 'qemuTotalTimeMs', label: 'QEMU total time', unit: 'ms', worse: 'up', minAbs: 20, of: (r: ScenarioResult) => r.qemuTotalTimeMs },
  { name: 'throughputMbps', label: 'throughput', unit: 'Mbit/s', worse: 'down', minAbs: 5, of: (r: ScenarioResult) => r.throughputMbps },
  { name: 'postcopyBlocktimeMs', label: 'postcopy blocktime', unit: 'ms', worse: 'up', minAbs: 5, of: (r: ScenarioResult) => r.postcopyBlocktimeMs },
  { name: 'recoveryMs', label: 'postcopy recovery', unit: 'ms', worse: 'up', minAbs: 20, of: (r: ScenarioResult) => r.recovery?.failureToRecoveredMs },
] as const;

export type Figure = (typeof FIGURES)[number];
export type FigureName = Figure['name'];
export type Figures = Partial<Record<FigureName, number>>;

/** A row's tracked figures, the ones it has. */
export function figuresOf(r: ScenarioResult): Figures {
  const out: Figures = {};
  for (const f of FIGURES) {
    const v = f.of(r);
    if (typeof v === 'number' && Number.isFinite(v)) out[f.name] = v;
  }
  return out;
}

export const figureByName = (name: string): Figure | undefined => FIGURES.find((f) => f.name === name);
