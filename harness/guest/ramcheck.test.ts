import { describe, expect, it } from 'vitest';
import { frameRanges, patternBoundaries } from './ramcheck.js';

describe('RAM pattern rule', () => {
  it('accepts uniform pages and one n+1 -> n boundary (the writer position)', () => {
    expect(patternBoundaries(Uint8Array.from([5, 5, 5, 5])).ok).toBe(true);
    expect(patternBoundaries(Uint8Array.from([6, 6, 5, 5])).ok).toBe(true);
    expect(patternBoundaries(Uint8Array.from([0, 0, 255, 255])).ok).toBe(true); // wraps at 256
  });
  it('rejects a stale page, a page from the future, and a wrong boundary', () => {
    expect(patternBoundaries(Uint8Array.from([5, 4, 5, 5]))).toMatchObject({ ok: false, boundaries: [{ page: 1 }, { page: 2 }] });
    expect(patternBoundaries(Uint8Array.from([6, 6, 5, 6, 5])).ok).toBe(false);
    expect(patternBoundaries(Uint8Array.from([7, 7, 5, 5])).ok).toBe(false);
  });
  it('merges frames into few dump ranges', () => {
    expect(frameRanges([10, 11, 12, 200, 5000, 5001], 256)).toEqual([{ start: 10, end: 201 }, { start: 5000, end: 5002 }]);
  });
});

describe('RAM as of a point', () => {
  it('reads the pass from the byte value and compares windows mod 256', async () => {
    const { passOfValue, withinPasses } = await import('./ramcheck.js');
    expect(passOfValue(1)).toBe(0);
    expect(passOfValue(4)).toBe(3);
    expect(withinPasses(4, 2, 4)).toBe(true);
    expect(withinPasses(9, 2, 4)).toBe(false);
    // Across the wrap: pass 256 is byte 1 again.
    expect(withinPasses(1, 254, 257)).toBe(true);
    expect(withinPasses(250, 254, 257)).toBe(false);
  });
});
