import { toHtml } from './html.js';
import { relativeRows } from './metadata.js';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toJUnit, xmlEscape } from './junit.js';
import { toMarkdown } from './markdown.js';
import { mergeShards } from './merge.js';
import type { ScenarioResult } from './results.js';

const rows: ScenarioResult[] = [
  { suite: 'precopy-basic', scenario: 'live precopy over tcp', arch: 'x86_64', outcome: 'passed', wallMs: 3100, qemuDowntimeMs: 6 },
  { suite: 'precopy-basic', scenario: 'live precopy over <fd> & "file"', arch: 'x86_64', outcome: 'failed', wallMs: 5000, error: 'DeadlineError: timed out\u0007 after 9s\nstack', artifacts: '/a/b' },
  { suite: 'dirty', scenario: 'dirty-limit', arch: 'aarch64', outcome: 'skipped', wallMs: 0, reason: 'needs KVM' },
];

describe('JUnit XML', () => {
  it('is well-formed for a real XML parser, with counts, failures and skips', async () => {
    const xml = toJUnit(rows);
    const script = `
import sys, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.read())
print(r.get('tests'), r.get('failures'), r.get('skipped'), len(r.findall('testsuite')))
f = r.find('.//failure'); print(f.get('message')); print(f.text.splitlines()[-1])
print(r.find('.//skipped').get('message'))
print(r.findall('.//testcase')[1].get('name'))`;
    const out = (await execa('python3', ['-c', script], { input: xml })).stdout.split('\n');
    expect(out[0]).toBe('3 1 1 2');
    expect(out[1]).toBe('DeadlineError: timed out after 9s');
    expect(out[2]).toBe('artifacts: /a/b');
    expect(out[3]).toBe('needs KVM');
    expect(out[4]).toBe('live precopy over <fd> & "file"');
  });
  it('escapes and drops what XML cannot carry', () => {
    expect(xmlEscape(`a<b>&"c'\u0000`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});

describe('markdown summary', () => {
  it('failures first, then every row; kept under the limit, saying how many rows were left out', () => {
    const md = toMarkdown(rows);
    expect(md).toMatch(/1 passed, 1 failed, 1 skipped\*\* of 3/);
    expect(md.indexOf('### Failures')).toBeLessThan(md.indexOf('### All scenarios'));
    expect(md).toContain('artifacts: `/a/b`');
    const many = Array.from({ length: 5000 }, (_, i) => ({ ...rows[0]!, scenario: `s${i} ${'x'.repeat(100)}` }));
    const small = toMarkdown(many, { limitBytes: 50_000 });
    expect(Buffer.byteLength(small)).toBeLessThanOrEqual(50_000);
    expect(small).toMatch(/_\d+ more rows left out/);
  });
});

describe('report merge', () => {
  it("merges shards' results.json and run directories, a row once", () => {
    const d = mkdtempSync(join(tmpdir(), 'migtest-merge-'));
    writeFileSync(join(d, 'a.json'), JSON.stringify({ accel: 'tcg', arches: ['x86_64'], results: rows.slice(0, 2) }));
    writeFileSync(join(d, 'results.jsonl'), `${JSON.stringify(rows[2])}\n${JSON.stringify({ ...rows[1], outcome: 'passed' })}\n`);
    const m = mergeShards([join(d, 'a.json'), d]);
    expect(m.results).toHaveLength(3);
    expect(m.results.find((r) => r.scenario.includes('<fd>'))!.outcome).toBe('passed');
    expect(m.shards.map((s) => s.rows)).toEqual([2, 2]);
    expect(() => mergeShards([join(d, 'nope')])).toThrow(/has no results.json/);
  });
});

describe('run metadata', () => {
  const meta = {
    migtest: { version: '0.1.0', commit: 'abc123' },
    command: ['migtest', 'run', 'precopy-basic'],
    startedAt: '2026-12-05T10:00:00.000Z',
    endedAt: '2026-12-05T10:03:00.000Z',
    host: { hostname: 'h', kernel: 'Linux 6.1.0 x86_64' },
    accel: [{ arch: 'x86_64', accel: 'tcg', why: '/dev/kvm does not exist' }],
    qemu: [{ arch: 'x86_64', side: 'source', version: '10.0.2', source: 'system', path: '/usr/bin/qemu-system-x86_64' }],
    images: [{ arch: 'x86_64', image: 'default-x86_64-18b05ff506d59964' }],
  };
  it('says what the run was in JUnit properties, the summary and the page; artifacts relative to the run', () => {
    expect(toJUnit(rows, 'migtest', meta)).toContain('<property name="QEMU x86_64 source" value="10.0.2 (system) /usr/bin/qemu-system-x86_64"/>');
    expect(toMarkdown(rows, { meta })).toMatch(/- accelerator x86_64: tcg: \/dev\/kvm does not exist/);
    expect(toMarkdown(rows, { meta })).toContain('(3.0 min)');
    expect(toHtml(rows, { meta })).toContain('commit abc123');
    expect(relativeRows([{ ...rows[0]!, artifacts: '/runs/r1/suite_x' }], '/runs/r1')[0]!.artifacts).toBe('suite_x');
  });

  it("merged shards keep the machine's cores only when every shard ran on it, and no shard's busy share", () => {
    const d = mkdtempSync(join(tmpdir(), 'migtest-merge-cpu-'));
    const shard = (name: string, hostname: string, cores: number) => {
      writeFileSync(join(d, name), JSON.stringify({ metadata: { ...meta, host: { ...meta.host, hostname }, hostCpu: { cores, busyPct: 90 } }, results: rows.slice(0, 1) }));
      return join(d, name);
    };
    expect(mergeShards([shard('a.json', 'h', 2), shard('b.json', 'h', 2)]).metadata!.hostCpu).toEqual({ cores: 2 });
    expect(mergeShards([shard('c.json', 'h', 2), shard('d.json', 'other', 2)]).metadata!.hostCpu).toBeUndefined();
    expect(mergeShards([shard('e.json', 'h', 2), shard('f.json', 'h', 4)]).metadata!.hostCpu).toBeUndefined();
  });
});
