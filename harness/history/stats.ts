/**
 * Rank statistics for comparing runs: no assumption that migration times are normal (they
 * are not: long tails, a few outliers when the host was busy). Pure; no dependencies.
 */

/** The q-quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return NaN;
  const at = (v.length - 1) * q;
  const lo = Math.floor(at);
  return v[lo]! + (v[Math.min(lo + 1, v.length - 1)]! - v[lo]!) * (at - lo);
}
export const median = (values: number[]) => quantile(values, 0.5);
export const iqr = (values: number[]) => quantile(values, 0.75) - quantile(values, 0.25);

/** erfc(x): series for erf near 0, continued fraction in the tail (both good to ~1e-13 relative here). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
/** P(Z >= z) for a standard normal Z. */
export const normalSf = (z: number) => erfc(z / Math.SQRT2) / 2;

/** Ranks 1..n of the pooled values, ties given their average rank. */
export function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** P(U <= k) for k = 0..m*n under H0 with no ties, by the recurrence on (m, n); cached per size. */
const cdfCache = new Map<string, Float64Array>();
function exactCdf(m: number, n: number): Float64Array {
  const key = `${m},${n}`;
  const hit = cdfCache.get(key);
  if (hit) return hit;
  // Probabilities, not counts: counts overflow 2^53 near m + n = 55.
  let prev: Float64Array[] = Array.from({ length: n + 1 }, () => Float64Array.of(1)); // m = 0: U = 0
  for (let i = 1; i <= m; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)]; // n = 0: U = 0
    for (let j = 1; j <= n; j++) {
      const d = new Float64Array(i * j + 1);
      // The largest value is from the first sample (prob i/(i+j)): it beats all j of the second.
      prev[j]!.forEach((p, u) => (d[u + j]! += (p * i) / (i + j)));
      cur[j - 1]!.forEach((p, u) => (d[u]! += (p * j) / (i + j)));
      cur.push(d);
    }
    prev = cur;
  }
  const pdf = prev[n]!;
  const cdf = new Float64Array(pdf.length);
  pdf.reduce((acc, p, u) => (cdf[u] = acc + p), 0);
  cdfCache.set(key, cdf);
  return cdf;
}

/** Every way of choosing k of n indices (as their rank sums), while there are at most `limit`. */
function rankSums(r: number[], k: number, limit: number): number[] | undefined {
  let count = 1;
  for (let i = 0; i < k; i++) count = (count * (r.length - i)) / (i + 1);
  if (count > limit) return undefined;
  const out: number[] = [];
  const walk = (from: number, left: number, sum: number) => {
    if (!left) return void out.push(sum);
    for (let i = from; i <= r.length - left; i++) walk(i + 1, left - 1, sum + r[i]!);
  };
  walk(0, k, 0);
  return out;
}

export interface MannWhitney {
  /** U of the first sample: the pairs (a, b) with a > b, ties counting half (scipy's statistic). */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'permutation' | 'normal';
}

/**
 * Two-sided Mann-Whitney U test of a against b. Exact distribution when there are no ties
 * and the samples are small; with ties and few arrangements, an exact permutation test over
 * the midranks; otherwise the normal approximation with tie correction and continuity
 * correction, as scipy.stats.mannwhitneyu computes it.
 */
export function mannWhitney(a: number[], b: number[]): MannWhitney {
  const [m, n] = [a.length, b.length];
  if (!m || !n) return { u: NaN, p: 1, method: 'normal' };
  const r = ranks([...a, ...b]);
  const u = r.slice(0, m).reduce((s, x) => s + x, 0) - (m * (m + 1)) / 2;
  const uMax = Math.max(u, m * n - u);
  const counts = new Map<number, number>();
  for (const v of [...a, ...b]) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ties = [...counts.values()].reduce((s, t) => s + t ** 3 - t, 0);
  if (!ties && m * n <= 2500) {
    // P(U >= uMax) = P(U <= m*n - uMax) by symmetry; two-sided doubles it.
    const p = 2 * exactCdf(m, n)[m * n - uMax]!;
    return { u, p: Math.min(1, p), method: 'exact' };
  }
  if (ties) {
    const sums = rankSums(r, m, 20_000);
    if (sums) {
      // Exact over every arrangement of the midranks; two-sided as scipy does it: twice the smaller tail.
      const us = sums.map((s) => s - (m * (m + 1)) / 2);
      const tail = Math.min(us.filter((x) => x <= u + 1e-9).length, us.filter((x) => x >= u - 1e-9).length);
      return { u, p: Math.min(1, (2 * tail) / us.length), method: 'permutation' };
    }
  }
  const N = m + n;
  const sigma = Math.sqrt(((m * n) / 12) * (N + 1 - ties / (N * (N - 1))));
  if (!(sigma > 0)) return { u, p: 1, method: 'normal' };
  const z = (uMax - (m * n) / 2 - 0.5) / sigma;
  return { u, p: Math.min(1, 2 * normalSf(z)), method: 'normal' };
}

/** A small seeded generator (mulberry32): the same synthetic series on every machine. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
