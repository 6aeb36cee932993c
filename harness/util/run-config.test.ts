import { afterEach, describe, expect, it } from 'vitest';
import { DEADLINES, deadline } from './deadlines.js';
import { DeadlineError } from './errors.js';
import { parseRunConfig, reloadRunConfig } from './run-config.js';
import { pollUntil, withDeadline } from './time.js';

describe('run config', () => {
  afterEach(() => {
    delete process.env.MIGTEST_TIME_SCALE;
    reloadRunConfig();
  });

  it('parses the environment once into typed fields, per-side QEMU included', () => {
    const c = parseRunConfig({ MIGTEST_ARCHES: 'aarch64', MIGTEST_QEMU: '7.2', MIGTEST_QEMU_DST: '10.0', MIGTEST_ACCEL: 'tcg', MIGTEST_CACHE: '/c' });
    expect(c).toMatchObject({ arches: ['aarch64'], qemu: { src: '7.2', dst: '10.0' }, accel: 'tcg', cacheDir: '/c', stateDir: '/c/state', timeScale: 1, matrix: 'default' });
  });

  it("honours QEMU's qtest variables below migtest's own, per side", () => {
    expect(parseRunConfig({ QTEST_QEMU_BINARY_SRC: '/b/qemu-system-x86_64' }).qemu).toEqual({ src: '/b/qemu-system-x86_64', dst: undefined });
    expect(parseRunConfig({ QTEST_QEMU_BINARY: '/b', QTEST_QEMU_BINARY_DST: '/d' }).qemu).toEqual({ src: '/b', dst: '/d' });
    expect(parseRunConfig({ QTEST_QEMU_BINARY_SRC: '/b', MIGTEST_QEMU_SRC: '7.2' }).qemu.src).toBe('7.2');
    expect(parseRunConfig({ MIGTEST_JOBS: '2' }).jobs).toBe(2);
    expect(() => parseRunConfig({ MIGTEST_JOBS: '0' })).toThrow(/MIGTEST_JOBS.*'0'.*1 to 8/);
  });

  it('names the variable and the allowed values for a bad one', () => {
    expect(() => parseRunConfig({ MIGTEST_ACCEL: 'hvf' })).toThrow(/MIGTEST_ACCEL.*'hvf'.*allowed: auto, kvm, tcg/);
    expect(() => parseRunConfig({ MIGTEST_ARCHES: 'x86_64,sparc' })).toThrow(/MIGTEST_ARCHES.*sparc.*x86_64, aarch64/);
    expect(() => parseRunConfig({ MIGTEST_TIME_SCALE: '0' })).toThrow(/MIGTEST_TIME_SCALE/);
    expect(() => parseRunConfig({ MIGTEST_KERNEL: '/k' })).toThrow(/set all three or none/);
  });

  it('scales a passed deadline and a default one the same way, once, in the primitive', async () => {
    process.env.MIGTEST_TIME_SCALE = '3';
    reloadRunConfig();
    const passed = await pollUntil('never', 20, () => ({ done: false }), 5).catch((e: unknown) => e);
    expect(passed).toBeInstanceOf(DeadlineError);
    expect((passed as DeadlineError).timeoutMs).toBe(60);
    const raced = await withDeadline('never', 10, new Promise(() => {})).catch((e: unknown) => e);
    expect((raced as DeadlineError).timeoutMs).toBe(30);
    // A default is looked up unscaled; the primitive it is passed to scales it.
    expect(deadline(undefined, 'beats')).toBe(DEADLINES.beats);
    expect(deadline({ timeoutMs: 7 }, 'beats')).toBe(7);
  });
});
