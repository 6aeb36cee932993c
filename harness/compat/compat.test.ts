import { describe, expect, it } from 'vitest';
import type { QemuProbe } from '../qemu/probe.js';
import { ConfigError } from '../util/errors.js';
import { expandGrid, parseGrid, type Version } from './grid.js';
import { expectMachine } from '../case/expectations.js';
import { destinationSetup } from '../case/pair.js';
import { compatMarkdown, versionSummary } from './report.js';

const probe = (version: string, machines: Array<[string, string?]>, cpuModels = ['qemu64', 'max']): QemuProbe => ({
  path: `/q/${version}`,
  version,
  oob: true,
  capabilities: [],
  parameters: {},
  machines: machines.map(([name, alias]) => ({ name, alias })),
  cpuModels,
  commands: [],
});
const v10 = probe('10.0.2', [['pc-q35-10.0', 'q35'], ['pc-q35-7.2']]);
const v72 = probe('7.2.22', [['pc-q35-7.2', 'q35']]);
const versions: Version[] = [
  { label: 'system', version: '10.0.2', probe: v10 },
  { label: '7.2', version: '7.2.22', probe: v72 },
];
const grid = parseGrid({
  name: 't',
  arches: ['x86_64'],
  versions: ['system', '7.2'],
  machines: { x86_64: ['pc-q35-7.2', 'newest'] },
  cpus: { x86_64: ['qemu64', 'Broadwell-IBRS'] },
});

describe('compatibility grid', () => {
  it('refuses a bad grid naming the field', () => {
    expect(() => parseGrid({ ...grid, versions: ['seven'] })).toThrow(/versions\[0\].*installed.*a version label/);
    expect(parseGrid({ ...grid, versions: ['installed', '~/qemu/build', '7.2'] }).versions).toHaveLength(3);
    expect(() => parseGrid({ ...grid, arches: ['sparc'] })).toThrow(ConfigError);
    expect(() => parseGrid({ ...grid, arches: ['x86_64', 'aarch64'] })).toThrow(/machines.aarch64: missing/);
    expect(() => parseGrid({ ...grid, cpu: [] })).toThrow(/unrecognized/i);
  });

  it('expands ordered version pairs, resolves newest per source, and dedupes', () => {
    const cells = expandGrid(grid, 'x86_64', versions, 'tcg');
    // 10.0 source: pc-q35-7.2 and pc-q35-10.0; 7.2 source: its newest is pc-q35-7.2 (one cell).
    expect(cells.filter((c) => c.source?.cpu === 'qemu64').map((c) => c.id)).toEqual([
      'x86_64 10.0.2->10.0.2 pc-q35-7.2 qemu64',
      'x86_64 10.0.2->10.0.2 pc-q35-10.0 (newest) qemu64',
      'x86_64 10.0.2->7.2.22 pc-q35-7.2 qemu64',
      'x86_64 10.0.2->7.2.22 pc-q35-10.0 (newest) qemu64',
      'x86_64 7.2.22->10.0.2 pc-q35-7.2 (newest) qemu64',
      'x86_64 7.2.22->7.2.22 pc-q35-7.2 (newest) qemu64',
    ]);
    const back = cells.find((c) => c.id === 'x86_64 10.0.2->7.2.22 pc-q35-10.0 (newest) qemu64')!;
    expect(back.expect?.kind).toBe('dst-start-fails');
    expect(cells.find((c) => c.source?.cpu === 'Broadwell-IBRS')!.expect).toEqual({ kind: 'skip', reason: 'QEMU 10.0.2 has no CPU model Broadwell-IBRS' });
    expect(destinationSetup(back)).toMatchObject({ qemu: '7.2', machine: 'pc-q35-10.0', cpu: 'qemu64' });
  });

  it("resolves 'oldest' and 'common' per ordered pair: the oldest and newest versioned type both know", () => {
    const v52 = probe('5.2.0', [['pc-q35-5.2', 'q35'], ['pc-q35-4.2']]);
    const v11 = probe('11.1.3', [['pc-q35-11.1', 'q35'], ['pc-q35-10.0'], ['pc-q35-7.2'], ['pc-q35-5.2']]);
    const g = parseGrid({ ...grid, versions: ['5.2', '11.1'], machines: { x86_64: ['oldest', 'common', 'newest'] }, cpus: { x86_64: ['qemu64'] } });
    const ids = expandGrid(g, 'x86_64', [{ label: '5.2', version: '5.2.0', probe: v52 }, { label: '11.1', version: '11.1.3', probe: v11 }], 'tcg').map((c) => c.id);
    expect(ids).toEqual([
      'x86_64 5.2.0->5.2.0 pc-q35-4.2 (oldest both know) qemu64',
      'x86_64 5.2.0->5.2.0 pc-q35-5.2 (newest both know) qemu64',
      'x86_64 5.2.0->11.1.3 pc-q35-5.2 (oldest both know) qemu64',
      'x86_64 11.1.3->5.2.0 pc-q35-5.2 (oldest both know) qemu64',
      'x86_64 11.1.3->5.2.0 pc-q35-11.1 (newest) qemu64',
      'x86_64 11.1.3->11.1.3 pc-q35-5.2 (oldest both know) qemu64',
      'x86_64 11.1.3->11.1.3 pc-q35-11.1 (newest both know) qemu64',
    ]);
  });

  it('a known break between two builds is a refusal in its words; the builds around it migrate', () => {
    const d = probe('11.1.3', [['pc-q35-11.1', 'q35'], ['pc-q35-10.0']]);
    const ctx = (src: string) => ({ arch: 'x86_64' as const, accel: 'tcg' as const, src: probe(src, [['pc-q35-10.0', 'q35']]) });
    expect(expectMachine('pc-q35-10.0', d, ctx('10.0.13'))).toMatchObject({ kind: 'refused', message: 'vring.num 1024 exceeds allocated max 256' });
    expect(expectMachine('pc-q35-10.0', d, ctx('10.0.2')).kind).toBe('migrates');
  });

  it('Arm under TCG across versions is refused by the CPU; same version or KVM migrates', () => {
    const a10 = probe('10.0.2', [['virt-10.0', 'virt'], ['virt-7.2']]);
    const a72 = probe('7.2.22', [['virt-7.2', 'virt']]);
    expect(expectMachine('virt-7.2', a72, { arch: 'aarch64', accel: 'tcg', src: a10 }).kind).toBe('refused');
    expect(expectMachine('virt-7.2', a72, { arch: 'aarch64', accel: 'kvm', src: a10 }).kind).toBe('migrates');
    expect(expectMachine('virt-7.2', a10, { arch: 'aarch64', accel: 'tcg', src: a10 }).kind).toBe('migrates');
    expect(expectMachine('virt-10.0', a72).kind).toBe('dst-start-fails');
  });

  it('formats the report as markdown, escaping pipes', () => {
    const md = compatMarkdown([{ cell: 'c', arch: 'x86_64', expected: 'refused', outcome: 'refused', error: 'a | b', downtimeMs: undefined }], 'T');
    expect(md).toContain('| c | refused | refused | a \\| b | - | - |');
  });

  it('summarises outcomes per source version x destination version', () => {
    const row = (versions: string, outcome: string) => ({ cell: versions, arch: 'x86_64', expected: '-', outcome, versions });
    const lines = versionSummary([row('7.2.22->10.0.2', 'migrated'), row('7.2.22->10.0.2', 'refused'), row('10.0.2->7.2.22', 'dst-start-failed'), row('10.0.2->10.0.2', 'skipped: no cpu')]);
    expect(lines).toContain('| source | 7.2.22 | 10.0.2 |');
    expect(lines).toContain('| 10.0.2 | 1 dst-start-failed | 1 skipped |');
    expect(lines).toContain('| 7.2.22 | - | 1 migrated, 1 refused |');
  });
});
