import { describe, expect, it } from 'vitest';
import type { QemuProbe } from '../qemu/probe.js';
import { ConfigError } from '../util/errors.js';
import { expandMatrix, shardCells } from './expand.js';
import { expectCell } from './expect.js';
import { loadMatrix, parseMatrix, presets } from './load.js';
import { RULES, BACKGROUND_SNAPSHOT_INCOMPATIBLE } from '../qemu/rules.js';

const probe = (version: string, capabilities: string[], parameters: string[] = ['max-bandwidth', 'multifd-channels']): QemuProbe => ({
  path: '/q', version, oob: true, capabilities, parameters: Object.fromEntries(parameters.map((p) => [p, 0])), machines: [], cpuModels: [], commands: [],
});
const Q10 = probe('10.0.2', ['multifd', 'return-path', 'switchover-ack', 'background-snapshot', 'xbzrle', 'postcopy-ram', 'dirty-limit', 'zero-copy-send'], ['max-bandwidth', 'multifd-channels', 'zero-page-detection']);
const Q72 = probe('7.2.22', ['multifd', 'return-path', 'background-snapshot', 'xbzrle', 'postcopy-ram', 'compress']);

describe('matrix expansion', () => {
  const m = parseMatrix({
    name: 't',
    axes: { arch: ['x86_64', 'aarch64'], transport: ['tcp', 'unix'], capabilities: { multifd: [false, true] }, parameters: { 'multifd-channels': [2, 4] } },
    exclude: [{ capabilities: { multifd: false }, parameters: { 'multifd-channels': 4 } }],
    include: [{ arch: 'x86_64', transport: 'file' }, { capabilities: { 'switchover-ack': true } }],
  });
  const cells = expandMatrix(m);

  it('takes the cartesian product, drops excluded cells, appends includes', () => {
    // 2 arch x 2 transport x (2x2 - 1 excluded) = 12, + 1 file + 2 switchover-ack
    expect(cells).toHaveLength(15);
    expect(cells.map((c) => c.id)).toContain('x86_64/tcp/qemu-default/multifd/multifd-channels=4');
    expect(cells.map((c) => c.id)).not.toContain('x86_64/tcp/qemu-default/no-caps/multifd-channels=4');
    expect(cells.filter((c) => c.capabilities['switchover-ack']).map((c) => c.arch)).toEqual(['x86_64', 'aarch64']);
  });

  it('applies only (avocado-vt style) and keeps ids unique', () => {
    const only = expandMatrix({ ...m, only: [{ arch: 'aarch64', transport: 'unix' }], include: [] });
    expect(only.every((c) => c.arch === 'aarch64' && c.transport === 'unix')).toBe(true);
    expect(new Set(cells.map((c) => c.id)).size).toBe(cells.length);
  });

  it('shards round-robin so every part gets a share', () => {
    const parts = [0, 1, 2, 3].map((k) => shardCells(cells, k, 4).length);
    expect(parts.reduce((a, b) => a + b)).toBe(cells.length);
    expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
  });

  it('loads every preset', () => {
    expect(presets()).toEqual(['default', 'full', 'smoke']);
    for (const p of presets()) expect(expandMatrix(loadMatrix(p)).length).toBeGreaterThan(0);
  });
});

describe('matrix validation names the field and the allowed values', () => {
  const bad = (raw: unknown) => {
    try {
      parseMatrix(raw, 'm.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };
  it('rejects unknown capabilities, parameters, values and keys', () => {
    expect(bad({ name: 'x', axes: { capabilities: { multifdd: [true] } } })).toMatch(/m.yaml: axes.capabilities.multifdd: unknown capability; allowed: .*multifd/);
    expect(bad({ name: 'x', axes: { parameters: { 'multifd-channels': [2, 'four'] } } })).toMatch(/axes.parameters.multifd-channels\[1\]: "four"; allowed: an integer from 1 to 255/);
    expect(bad({ name: 'x', axes: { parameters: { 'zero-page-detection': ['fast'] } } })).toMatch(/allowed: none, legacy, multifd/);
    expect(bad({ name: 'x', axes: { transport: ['pigeon'] } })).toMatch(/axes.transport\[0\].*allowed: tcp, unix, exec, fd, file/);
    expect(bad({ name: 'x', axis: {} })).toMatch(/Unrecognized key.*allowed: name, description, axes/);
    expect(bad({ name: 'x', exclude: [{ capabilities: { nope: true } }] })).toMatch(/exclude\[0\].capabilities.nope/);
  });
});

describe('computed expectations', () => {
  const cell = (capabilities: Record<string, boolean>, extra: object = {}) => ({
    id: 'c', arch: 'x86_64' as const, transport: 'tcp' as const, qemu: { src: 'default', dst: 'default' }, capabilities, parameters: {}, workload: { mib: 8, rateMiBs: 1 }, ...extra,
  });

  it('skips what a binary lacks, naming the version and the capability', () => {
    expect(expectCell(cell({ 'switchover-ack': true, 'return-path': true }), { src: Q72, dst: Q72 }, 'tcg')).toEqual({
      kind: 'skip', reason: 'QEMU 7.2.22 (source) has no capability switchover-ack',
    });
    expect(expectCell(cell({}, { parameters: { 'zero-page-detection': 'none' } }), { src: Q10, dst: Q72 }, 'tcg')).toMatchObject({
      kind: 'skip', reason: 'QEMU 7.2.22 (destination) has no parameter zero-page-detection',
    });
    expect(expectCell(cell({}, { transport: 'file' }), { src: Q72, dst: Q72 }, 'tcg')).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/no file: transport \(since 8.2\)/) });
  });

  it('turns QEMU rules into negative cells with the message', () => {
    const e = expectCell(cell({ 'switchover-ack': true }), { src: Q10, dst: Q10 }, 'tcg');
    expect(e).toMatchObject({ kind: 'refused', side: 'destination', stage: 'settings', message: "Capability 'switchover-ack' requires capability 'return-path'" });
    for (const cap of ['multifd', 'xbzrle', 'return-path'])
      expect(expectCell(cell({ 'background-snapshot': true, [cap]: true }), { src: Q10, dst: Q10 }, 'tcg')).toMatchObject({
        kind: 'refused', message: `Background-snapshot is not compatible with ${cap}`,
      });
    expect(expectCell(cell({ 'dirty-limit': true }), { src: Q10, dst: Q10 }, 'tcg')).toMatchObject({ kind: 'refused' });
    expect(expectCell(cell({ 'dirty-limit': true }), { src: Q10, dst: Q10 }, 'kvm')).toEqual({ kind: 'migrates' });
  });

  it('honours version ranges of rules', () => {
    expect(expectCell(cell({ multifd: true, xbzrle: true }), { src: Q10, dst: Q10 }, 'tcg')).toMatchObject({ kind: 'refused' });
    expect(expectCell(cell({ multifd: true, xbzrle: true }), { src: Q72, dst: Q72 }, 'tcg')).toEqual({ kind: 'migrates' });
    expect(expectCell(cell({ multifd: true, 'postcopy-ram': true }), { src: Q10, dst: Q10 }, 'tcg')).toMatchObject({ kind: 'refused', rule: 'postcopy-vs-multifd' });
    expect(expectCell(cell({ multifd: true, 'postcopy-ram': true }), { src: { ...Q10, version: '10.1.0' }, dst: { ...Q10, version: '10.1.0' } }, 'tcg')).toEqual({ kind: 'migrates' });
  });

  it('keeps the rules in one table with unique ids', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    expect(RULES.filter((r) => r.id.startsWith('background-snapshot-vs-'))).toHaveLength(BACKGROUND_SNAPSHOT_INCOMPATIBLE.length);
  });
});
