import { describe, expect, it } from 'vitest';
import { erfc, iqr, mannWhitney, median, ranks } from './stats.js';

// Reference values from scipy.stats.mannwhitneyu 1.17 (two-sided; its statistic is U of the first sample).
describe('Mann-Whitney U', () => {
  it('exact, no ties: scipy docs example (males vs females)', () => {
    const r = mannWhitney([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r).toMatchObject({ u: 17, method: 'exact' });
    expect(r.p).toBeCloseTo(0.1111111111111111, 12);
  });
  it("exact, no ties: R's wilcox.test example (W = 35)", () => {
    const r = mannWhitney([0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46], [1.15, 0.88, 0.9, 0.74, 1.21]);
    expect(r.u).toBe(35);
    expect(r.p).toBeCloseTo(0.2544122544122544, 12);
  });
  it('exact for larger samples without ties (30 vs 25), where counts would pass 2^53', () => {
    const a = Array.from({ length: 30 }, (_, i) => i + 1);
    const b = Array.from({ length: 25 }, (_, i) => i + 13.5);
    const r = mannWhitney(a, b);
    expect(r).toMatchObject({ u: 153, method: 'exact' });
    expect(r.p).toBeCloseTo(0.00010467692307507564, 12);
  });
  it('ties, few arrangements: exact permutation over the midranks (scipy PermutationMethod)', () => {
    const r = mannWhitney([45, 47, 47, 50, 52], [50, 52, 55, 55, 58, 60]);
    expect(r).toMatchObject({ u: 2, method: 'permutation' });
    expect(r.p).toBeCloseTo(0.021645021645021644, 12);
  });
  it('ties, many arrangements: normal approximation with tie and continuity correction (scipy asymptotic)', () => {
    const a = [1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const b = [3, 4, 4, 5, 6, 7, 7, 8, 9, 9, 10, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
    const r = mannWhitney(a, b);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(93.5);
    expect(r.p).toBeCloseTo(0.0023722326781538965, 12);
  });
  it('all values equal: no evidence (p = 1)', () => {
    expect(mannWhitney([5, 5, 5], [5, 5, 5, 5]).p).toBe(1);
  });
  it('symmetric in its samples', () => {
    const [a, b] = [[3, 8, 1, 9, 4], [7, 12, 10, 15, 6, 11]];
    expect(mannWhitney(a, b).p).toBeCloseTo(mannWhitney(b, a).p, 12);
    expect(mannWhitney(a, b).u + mannWhitney(b, a).u).toBe(a.length * b.length);
  });
});

describe('helpers', () => {
  it('midranks for ties', () => expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]));
  it('erfc against known values', () => {
    expect(erfc(0)).toBe(1);
    expect(erfc(0.5)).toBeCloseTo(0.4795001221869535, 14);
    expect(erfc(2)).toBeCloseTo(0.004677734981047266, 15);
    expect(erfc(3) / 2.209049699858544e-5).toBeCloseTo(1, 11);
    expect(erfc(-1)).toBeCloseTo(1.8427007929497148, 14);
  });
  it('median and IQR as numpy computes them (linear interpolation)', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(iqr([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBeCloseTo(4.5, 12);
  });
});
