import { describe, expect, it } from 'vitest';
import type { QemuBinary } from '../qemu/catalog.js';
import { ConfigError } from '../util/errors.js';
import { bisect, formatBisect, pick, type TestBuild } from './bisect.js';
import { between, candidateBuilds, sortBuilds, toBuilds, type Build, type Catalog } from './order.js';
import { attemptFromResults, decide, qemuArgs, runStep, type Attempt, type StepRunner } from './step.js';

const bin = (version: string, source: QemuBinary['source'], path = `/q/${source}/${version}/qemu-system-x86_64`): QemuBinary => ({ arch: 'x86_64', path, version, firmwareDirs: [], source });
/** The builds installed here, out of order on purpose. */
const CATALOG = [bin('10.0.2', 'system', '/usr/bin/qemu-system-x86_64'), bin('11.1.3', 'cache'), bin('5.2.0', 'cache'), bin('10.0.13', 'cache'), bin('7.2.22', 'cache')];

/** findBinary's rules over CATALOG (a label is a version prefix; system for the system one; a path is itself). */
const fakeCatalog = (extra: QemuBinary[] = []): Catalog => ({
  listBinaries: async () => CATALOG,
  findBinary: async (_arch, spec) => {
    const path = extra.find((b) => b.path === spec);
    if (path) return path;
    const found = spec === 'system' ? CATALOG[0] : spec === 'newest' ? CATALOG[1] : CATALOG.find((b) => b.version === spec || b.version.startsWith(`${spec}.`));
    if (!found) throw new ConfigError('qemu version for x86_64', `'${spec}' is not installed`, CATALOG.map((b) => b.version));
    return found;
  },
});

const build = (version: string): Build => ({ label: version, version, spec: version, path: `/q/${version}`, source: 'cache' });
const BUILDS = ['5.2.0', '6.2.0', '7.2.22', '8.2.0', '9.2.0', '10.0.2', '10.1.0', '11.1.3'].map(build);

/** A fake step runner: a build passes or fails by a rule; it records what it was asked. */
function fakeRunner(outcome: (b: Build, attempt: number) => Attempt['outcome']) {
  const asked: string[] = [];
  const run: StepRunner = async (b, attempt) => {
    asked.push(`${b.label}#${attempt}`);
    const o = outcome(b, attempt);
    return { outcome: o, runDir: `/runs/${b.label}-${attempt}`, artifacts: `/runs/${b.label}-${attempt}/s`, reason: o === 'failed' ? 'boom' : o === 'skipped' ? 'lacks a capability' : undefined };
  };
  const test = (repeat = 1): TestBuild => (b) => runStep(b, repeat, run);
  return { asked, test };
}
const index = (label: string) => BUILDS.findIndex((b) => b.label === label);

describe('order: candidate builds in version order', () => {
  it('sorts by version (numerically), the system build first among equals, one binary once', () => {
    const dup = bin('10.0.2', 'path', '/usr/bin/qemu-system-x86_64');
    expect(sortBuilds([...CATALOG, dup]).map((b) => `${b.version}/${b.source}`)).toEqual(['5.2.0/cache', '7.2.22/cache', '10.0.2/system', '10.0.13/cache', '11.1.3/cache']);
  });

  it('labels each build by its version, its path where two share one', () => {
    const twin = bin('7.2.22', 'build', '/src/qemu/build/qemu-system-x86_64');
    const builds = toBuilds(sortBuilds([...CATALOG, twin]), CATALOG);
    expect(builds.map((b) => b.label)).toContain('7.2.22 (build /src/qemu/build/qemu-system-x86_64)');
    // The catalog's 7.2.22 is still named by its version for migtest run; the build by its path.
    expect(builds.find((b) => b.source === 'cache' && b.version === '7.2.22')!.spec).toBe('7.2.22');
    expect(builds.find((b) => b.source === 'build')!.spec).toBe(twin.path);
  });

  it('gives the builds from --good to --bad, both included, upward or downward', async () => {
    expect((await candidateBuilds('x86_64', '7.2', '11.1', fakeCatalog())).map((b) => b.label)).toEqual(['7.2.22', '10.0.2', '10.0.13', '11.1.3']);
    // good newer than bad: where a fix landed, the list runs downward.
    expect((await candidateBuilds('x86_64', 'newest', '5.2', fakeCatalog())).map((b) => b.label)).toEqual(['11.1.3', '10.0.13', '10.0.2', '7.2.22', '5.2.0']);
    expect((await candidateBuilds('x86_64', 'default', '10.0.13', fakeCatalog())).map((b) => b.spec)).toEqual(['10.0.2', '10.0.13']);
  });

  it('places a build named by path among the installed ones by its version', async () => {
    const mine = bin('9.2.50', 'build', '/src/qemu/build/qemu-system-x86_64');
    const builds = await candidateBuilds('x86_64', '7.2', mine.path, fakeCatalog([mine]));
    expect(builds.map((b) => b.label)).toEqual(['7.2.22', '9.2.50']);
    expect(builds.at(-1)!.spec).toBe(mine.path);
  });

  it('refuses an endpoint that is not installed, naming the option and what is', async () => {
    const err = await candidateBuilds('x86_64', '7.2', '9.0', fakeCatalog()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^invalid --bad: no x86_64 QEMU '9.0' is installed; allowed: 5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.3, default/);
    await expect(candidateBuilds('x86_64', '6', '7.2', fakeCatalog())).rejects.toThrow(/invalid --good/);
    await expect(candidateBuilds('x86_64', '10.0.2', 'default', fakeCatalog())).rejects.toThrow(/invalid --good\/--bad: both name the same build/);
  });

  it('between() needs both endpoints in the list', () => {
    expect(between(BUILDS, BUILDS[2]!, BUILDS[4]!).map((b) => b.label)).toEqual(['7.2.22', '8.2.0', '9.2.0']);
    expect(() => between(BUILDS, build('1.0'), BUILDS[0]!)).toThrow();
  });
});

describe('step: verdicts and the majority', () => {
  const sel = { suite: 'snapshots', pattern: 'multifd', arch: 'x86_64' as const };
  const row = (scenario: string, outcome: 'passed' | 'failed' | 'skipped', arch = 'x86_64') => ({ suite: 'snapshots', scenario, arch, outcome, wallMs: 1, artifacts: `snapshots/${arch}/${scenario}`, error: 'it broke', reason: 'no multifd' });

  it('the majority decides; a tie is bad; skips are no evidence; only skips is a skip', () => {
    const a = (...os: Attempt['outcome'][]) => os.map((outcome) => ({ outcome }));
    expect(decide(a('passed', 'passed', 'failed'))).toBe('good');
    expect(decide(a('passed', 'failed', 'failed'))).toBe('bad');
    expect(decide(a('passed', 'failed'))).toBe('bad');
    expect(decide(a('passed', 'skipped', 'skipped'))).toBe('good');
    expect(decide(a('skipped', 'skipped'))).toBe('skip');
  });

  it('runs every repetition and counts them (a flaky build shows as a split)', async () => {
    const { asked, test } = fakeRunner((_b, i) => (i === 2 ? 'failed' : 'passed'));
    const s = await test(3)(build('7.2.22'), 'step');
    expect(asked).toEqual(['7.2.22#1', '7.2.22#2', '7.2.22#3']);
    expect(s).toMatchObject({ verdict: 'good', passed: 2, failed: 1, skipped: 0 });
  });

  it("reads the run's one row; its artifacts resolved against the run directory", () => {
    expect(attemptFromResults({ runDir: '/r', results: [row('a', 'failed')] }, sel)).toEqual({ outcome: 'failed', runDir: '/r', artifacts: '/r/snapshots/x86_64/a', scenario: 'a', reason: 'it broke' });
    expect(attemptFromResults({ runDir: '/r', results: [row('a', 'skipped')] }, sel)).toMatchObject({ outcome: 'skipped', reason: 'no multifd' });
  });

  it('refuses a selection of no scenario or of several, naming them', () => {
    expect(() => attemptFromResults({ runDir: '/r', results: [] }, sel)).toThrow(/invalid -t: 'multifd' selects no scenario of snapshots on x86_64/);
    expect(() => attemptFromResults({ runDir: '/r', results: [row('a', 'passed'), row('b', 'failed')] }, sel)).toThrow(/selects 2 scenarios of snapshots on x86_64: 'a', 'b'; allowed: a pattern that selects exactly one/);
    // Another arch's row is not this bisect's.
    expect(attemptFromResults({ runDir: '/r', results: [row('a', 'passed'), row('a', 'failed', 'aarch64')] }, sel).outcome).toBe('passed');
  });

  it('puts the build on the side asked', () => {
    expect(qemuArgs('both', '7.2.22')).toEqual(['--qemu', '7.2.22']);
    expect(qemuArgs('source', '7.2.22')).toEqual(['--src-qemu', '7.2.22']);
    expect(qemuArgs('destination', '/b/qemu')).toEqual(['--dst-qemu', '/b/qemu']);
  });
});

describe('bisect: binary search with a fake runner', () => {
  it('finds the first bad build, testing the endpoints first', async () => {
    for (let firstBad = 1; firstBad < BUILDS.length; firstBad++) {
      const { asked, test } = fakeRunner((b) => (index(b.label) >= firstBad ? 'failed' : 'passed'));
      const r = await bisect(BUILDS, test());
      expect(r.kind).toBe('found');
      expect(r.firstBad!.build.label).toBe(BUILDS[firstBad]!.label);
      expect(r.lastGood!.build.label).toBe(BUILDS[firstBad - 1]!.label);
      expect(asked.slice(0, 2)).toEqual(['5.2.0#1', '11.1.3#1']);
      // 8 builds: the endpoints, then at most 3 halvings.
      expect(asked.length).toBeLessThanOrEqual(5);
      expect(new Set(asked).size).toBe(asked.length);
    }
  });

  it('two builds: the endpoints alone decide', async () => {
    const { asked, test } = fakeRunner((b) => (b.label === '6.2.0' ? 'failed' : 'passed'));
    const r = await bisect(BUILDS.slice(0, 2), test());
    expect(r).toMatchObject({ kind: 'found', untested: [] });
    expect(asked).toEqual(['5.2.0#1', '6.2.0#1']);
  });

  it('stops when --good does not pass, or --bad does not fail, saying which', async () => {
    const allFail = fakeRunner(() => 'failed');
    const r1 = await bisect(BUILDS, allFail.test());
    expect(r1.kind).toBe('endpoint');
    expect(r1.problem).toMatch(/^--good 5.2.0 did not pass \(0 passed, 1 failed\)/);
    expect(allFail.asked).toEqual(['5.2.0#1']);
    const allPass = fakeRunner(() => 'passed');
    const r2 = await bisect(BUILDS, allPass.test());
    expect(r2.problem).toMatch(/^--bad 11.1.3 did not fail \(1 passed, 0 failed\)/);
    const skipped = fakeRunner((b) => (b.label === '11.1.3' ? 'skipped' : 'passed'));
    expect((await bisect(BUILDS, skipped.test())).problem).toMatch(/--bad 11.1.3 did not fail \(0 passed, 0 failed, 1 skipped\): lacks a capability/);
    expect(formatBisect(r1, 'x').at(-1)).toMatch(/^no bisect: --good 5.2.0 did not pass/);
  });

  it('with --repeat, the majority of each step decides (a tie is bad)', async () => {
    // 9.2.0 fails 2 of 3 (bad by majority); 8.2.0 fails 1 of 3 (good); builds from 10.0.2 always fail.
    const { test } = fakeRunner((b, i) => {
      const k = index(b.label);
      if (k >= 5) return 'failed';
      if (b.label === '9.2.0') return i <= 2 ? 'failed' : 'passed';
      if (b.label === '8.2.0') return i === 1 ? 'failed' : 'passed';
      return 'passed';
    });
    const r = await bisect(BUILDS, test(3));
    expect(r.firstBad).toMatchObject({ build: { label: '9.2.0' }, passed: 1, failed: 2 });
    expect(r.lastGood!.build.label).toBe('8.2.0');
    const text = formatBisect(r, 'snapshots > multifd').join('\n');
    expect(text).toMatch(/first bad: 9.2.0 \(1 passed, 2 failed\)/);
    expect(text).toMatch(/flaky: .*9.2.0 \(1 passed, 2 failed\)/);
    // A tie: 2 attempts, 1 and 1.
    const tie = fakeRunner((b, i) => (index(b.label) >= 3 ? (i === 1 ? 'passed' : 'failed') : 'passed'));
    expect((await bisect(BUILDS, tie.test(2))).firstBad!.build.label).toBe('8.2.0');
  });

  it('sets a skipped build aside and tries its neighbour; a boundary hidden by skips is a range', async () => {
    const { asked, test } = fakeRunner((b) => (b.label === '8.2.0' ? 'skipped' : index(b.label) >= 5 ? 'failed' : 'passed'));
    const r = await bisect(BUILDS, test());
    expect(r).toMatchObject({ kind: 'found', firstBad: { build: { label: '10.0.2' } }, lastGood: { build: { label: '9.2.0' } } });
    expect(r.untested).toEqual([]);
    expect(asked).toEqual(['5.2.0#1', '11.1.3#1', '8.2.0#1', '9.2.0#1', '10.0.2#1']);
    // The skipped build is right before the first bad: it could be either.
    const hidden = fakeRunner((b) => (b.label === '9.2.0' ? 'skipped' : index(b.label) >= 4 ? 'failed' : 'passed'));
    const r2 = await bisect(BUILDS, hidden.test());
    expect(r2.kind).toBe('range');
    expect(r2.untested.map((b) => b.label)).toEqual(['9.2.0']);
    expect(r2.firstBad!.build.label).toBe('10.0.2');
    expect(formatBisect(r2, 'x').join('\n')).toMatch(/first bad: one of 9.2.0, 10.0.2 \(9.2.0 could not be tested: skipped\)/);
  });

  it('reports both runs of the boundary with their artifacts', async () => {
    const { test } = fakeRunner((b) => (index(b.label) >= 6 ? 'failed' : 'passed'));
    const lines = formatBisect(await bisect(BUILDS, test()), 'snapshots > multifd');
    expect(lines).toContain('first bad: 10.1.0 (0 passed, 1 failed)');
    expect(lines).toContain('   failed: /runs/10.1.0-1/s\n     boom');
    expect(lines).toContain('last good: 10.0.2 (1 passed, 0 failed)');
    expect(lines).toContain('   passed: /runs/10.0.2-1/s');
  });

  it('pick: the untested index nearest the middle', () => {
    expect(pick(0, 7, new Set())).toBe(3);
    expect(pick(0, 7, new Set([3]))).toBe(4);
    expect(pick(0, 7, new Set([3, 4]))).toBe(2);
    expect(pick(3, 4, new Set())).toBeUndefined();
    expect(pick(3, 5, new Set([4]))).toBeUndefined();
  });
});
