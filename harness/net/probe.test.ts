import { describe, expect, it } from 'vitest';
import { analyzeProbe } from './probe.js';

describe('analyzeProbe', () => {
  it('finds the longest silence, the lost requests and the announce frames', () => {
    const text = [
      'READY 100.000000',
      'S 1 100.000', 'R 1 100.001',
      'S 2 100.010', 'R 2 100.011',
      'S 3 100.020', 'S 4 100.030', 'A rarp 52:54:00:6d:74:01 100.035',
      'S 5 100.040', 'R 5 100.052', 'A garp 52:54:00:6d:74:01 100.060',
      'S 6 100.050',
    ].join('\n');
    const f = analyzeProbe(text, 10);
    expect(f.sent).toBe(6);
    expect(f.replies).toBe(3);
    // 3 and 4 were never answered, 5 was; 6 may still be under way.
    expect(f.lost).toBe(2);
    expect(f.maxGapMs).toBeCloseTo(41, 0);
    expect(f.gapFrom).toBeCloseTo(100_011, 0);
    expect(f.rarp).toEqual([100_035]);
    expect(f.garp).toEqual([100_060]);
    expect(f.lastReplyAt).toBeCloseTo(100_052, 0);
  });
});
