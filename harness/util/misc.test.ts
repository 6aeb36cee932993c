import { describe, expect, it } from 'vitest';
import { kvmProbeBootSector } from '../qemu/accel.js';
import { compareVersions, parseQemuVersion } from '../qemu/catalog.js';
import { parseShard } from '../cli/suites.js';
import { formatTable } from '../report/table.js';
import { parseArch } from './arch.js';
import { ConfigError } from './errors.js';

describe('small utilities', () => {
  it('parses and compares QEMU versions', () => {
    expect(parseQemuVersion('QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)')).toBe('10.0.2');
    expect(compareVersions('7.2.22', '10.0.2')).toBe(-1);
    expect(compareVersions('10.1', '10.1.0')).toBe(0);
  });

  it('builds a bootable probe sector that points at its own message', () => {
    const s = kvmProbeBootSector();
    expect(s.length).toBe(512);
    expect(s.readUInt16LE(510)).toBe(0xaa55);
    const msgAt = s.readUInt16LE(9) - 0x7c00; // operand of mov si,imm16
    expect(s.toString('latin1', msgAt, msgAt + 14)).toBe('MIGTEST-KVM-OK');
  });

  it('rejects bad input naming the field and the allowed values', () => {
    expect(() => parseShard('3/2')).toThrow(ConfigError);
    expect(() => parseShard('x')).toThrow(/--shard.*allowed: i\/n/);
    expect(parseShard('1/2')).toBe('1/2');
    expect(() => parseArch('sparc', '--arch')).toThrow(/invalid --arch: 'sparc'.*allowed: x86_64, aarch64/);
  });

  it('formats the results table with a closing count line', () => {
    const t = formatTable([
      { suite: 's', scenario: 'a', arch: 'x86_64', outcome: 'passed', wallMs: 6500, qemuTotalTimeMs: 700, qemuDowntimeMs: 9, guestDowntimeMs: 70, throughputMbps: 1129.2 },
      { suite: 's', scenario: 'b', arch: 'aarch64', outcome: 'skipped', reason: 'no /dev/vhost-net', wallMs: 1 },
      {
        suite: 's', scenario: 'c', arch: 'x86_64', outcome: 'passed', wallMs: 9000, postcopyBlocktimeMs: 3700,
        recovery: { failureToPausedMs: 20, failureToRecoveredMs: 1040, heartbeatGapMs: 1210, attempts: 1 },
      },
    ]);
    expect(t).toContain('blocktime 3700ms; recovered 1040ms after the fault, guest stalled 1210ms');
    expect(t).toMatch(/s: a\s+x86_64\s+passed\s+6500ms\s+700ms\s+9ms\s+70ms\s+1129 Mbit\/s/);
    expect(t).toContain('skipped (no /dev/vhost-net)');
    expect(t.split('\n').at(-1)).toBe('2 passed, 0 failed, 1 skipped');
  });

  it('repeats failed rows last, with their error and artifacts directory', () => {
    const t = formatTable([
      { suite: 's', scenario: 'a', outcome: 'passed', wallMs: 1 },
      { suite: 's', scenario: 'b', arch: 'aarch64', outcome: 'failed', wallMs: 1, error: 'DeadlineError: waited 60s\nstack', artifacts: '/tmp/x/b' },
    ]);
    expect(t).toMatch(/failed:\n  s: b \[aarch64\]\n    DeadlineError: waited 60s\n    artifacts: \/tmp\/x\/b$/);
  });
});
