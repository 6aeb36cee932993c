import { describe, expect, it } from 'vitest';
import type { ScenarioResult } from './results.js';
import { formatTimeSplit, runTimeOptions, runWallMs, timeByFile, timeSplitMarkdown } from './time-split.js';

const row = (file: string | undefined, wallMs: number, phases?: [number, number, number], o: Partial<ScenarioResult> = {}): ScenarioResult => ({
  suite: 'suite',
  scenario: 'x',
  outcome: 'passed',
  wallMs,
  ...(file ? { file: `suites/${file}.test.ts` } : {}),
  ...(phases ? { phases: { bootMs: phases[0], migratingMs: phases[1], harnessMs: phases[2] } } : {}),
  ...o,
});

const ROWS: ScenarioResult[] = [
  row('precopy-basic', 10_000, [2_000, 5_000, 3_000]),
  row('precopy-basic', 10_000, [2_000, 3_000, 5_000]),
  row('postcopy-recovery', 30_000, [3_000, 21_000, 6_000]),
  // a skip: no VM started
  row('tls', 500, [0, 0, 500], { outcome: 'skipped' }),
];

describe('where the time went', () => {
  it('sums rows by suite file, the largest wall first; a row without phases counts as harness', () => {
    const t = timeByFile([...ROWS, row(undefined, 1_000, undefined, { suite: 'old' })]);
    expect(t.map((f) => f.file)).toEqual(['postcopy-recovery', 'precopy-basic', 'old', 'tls']);
    expect(t[1]).toEqual({ file: 'precopy-basic', scenarios: 2, wallMs: 20_000, bootMs: 4_000, migratingMs: 8_000, harnessMs: 8_000, processesCpuMs: 0, harnessCpuMs: 0 });
    expect(t[2]).toMatchObject({ wallMs: 1_000, harnessMs: 1_000, bootMs: 0 });
  });

  it('prints the run wall, one line per file with its split and shares, and a total', () => {
    expect(formatTimeSplit(ROWS, { runWallMs: 45_000 })).toBe(
      [
        "where the time went: run wall 45.0s; scenarios' wall summed 50.5s over 4 scenario run(s)",
        '  suite file         scenarios   wall       boot   migrating     harness',
        '  postcopy-recovery          1  30.0s  3.0s  10%  21.0s  70%   6.0s  20%',
        '  precopy-basic              2  20.0s  4.0s  20%   8.0s  40%   8.0s  40%',
        '  tls                        1   0.5s  0.0s   0%   0.0s   0%   0.5s 100%',
        '  total (3 files)            4  50.5s  7.0s  14%  29.0s  57%  14.5s  29%',
      ].join('\n'),
    );
  });

  it('keeps the ten largest files, the total over all of them; nothing without phases', () => {
    const many = Array.from({ length: 12 }, (_, i) => row(`f${String(i).padStart(2, '0')}`, 1_000 * (i + 1), [0, 0, 1_000 * (i + 1)]));
    const lines = formatTimeSplit(many).split('\n');
    expect(lines[0]).toContain('the 10 largest of 12 suite files');
    expect(lines).toHaveLength(1 + 1 + 10 + 1);
    expect(lines[2]).toMatch(/^ {2}f11 /);
    expect(lines.at(-1)).toMatch(/total \(12 files\)\s+12\s+78\.0s/);
    expect(formatTimeSplit([row('a', 5)])).toBe('');
    expect(timeSplitMarkdown([row('a', 5)])).toEqual([]);
  });

  it("adds the CPU the scenarios used, and the least wall it needs on the run machine's cores", () => {
    const rows = [
      row('precopy-basic', 10_000, [2_000, 5_000, 3_000], { cpu: { processesMs: 12_000, harnessMs: 1_000 } }),
      row('precopy-basic', 10_000, [2_000, 3_000, 5_000], { cpu: { processesMs: 8_000, harnessMs: 500 } }),
      row('postcopy-recovery', 30_000, [3_000, 21_000, 6_000]),
    ];
    expect(timeByFile(rows)[1]).toMatchObject({ file: 'precopy-basic', processesCpuMs: 20_000, harnessCpuMs: 1_500 });
    const lines = formatTimeSplit(rows, { runWallMs: 40_000, cpu: { cores: 2, busyPct: 93 } }).split('\n');
    expect(lines[0]).toBe(
      "where the time went: run wall 40.0s; scenarios' wall summed 50.0s over 3 scenario run(s); the scenarios' processes used 20.0s of CPU, at least 10.0s of wall on 2 core(s); the machine's CPU was 93% busy",
    );
    expect(lines[1]).toMatch(/harness {2}CPU: processes {2}CPU: harness$/);
    expect(lines[3]).toMatch(/^ {2}precopy-basic .* 20\.0s {9,}1\.5s$/);
    expect(timeSplitMarkdown(rows)).toContain('| suite file | scenarios | wall | boot | migrating | harness | CPU: processes | CPU: harness |');
    expect(runTimeOptions({ startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:00:40.000Z', hostCpu: { cores: 2, busyPct: 93 } })).toEqual({ runWallMs: 40_000, cpu: { cores: 2, busyPct: 93 } });
  });

  it('gives summary.md the same table, and reads the run wall from the metadata', () => {
    const md = timeSplitMarkdown(ROWS, { runWallMs: 45_000 });
    expect(md[0]).toBe('### Where the time went');
    expect(md).toContain('| suite file | scenarios | wall | boot | migrating | harness |');
    expect(md).toContain('| postcopy-recovery | 1 | 30.0s | 3.0s 10% | 21.0s 70% | 6.0s 20% |');
    expect(md).toContain('| **total (3 files)** | **4** | **50.5s** | **7.0s 14%** | **29.0s 57%** | **14.5s 29%** |');
    expect(runWallMs({ startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:01:30.500Z' })).toBe(90_500);
    expect(runWallMs({ startedAt: 'x' })).toBeUndefined();
  });
});
