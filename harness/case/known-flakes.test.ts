import { describe, expect, it } from 'vitest';
import { knownFlake, type KnownFlake } from './known-flakes.js';

const oops = { kind: 'guest-died' as const, error: 'the guest kernel crashed on the destination: general protection fault, probably for non-canonical address 0xcdcc613bb9cdb6ca: 0000 [#1] PREEMPT SMP' };
const at = { arch: 'x86_64' as const, accel: 'tcg' as const, mode: 'postcopy' as const, versions: { src: '7.2.22', dst: '5.2.0' } };

describe('knownFlake', () => {
  it('matches the x86 TCG postcopy guest oops where it was seen, and nowhere else', () => {
    expect(knownFlake(oops, at)?.id).toBe('x86-tcg-postcopy-guest-oops');
    expect(knownFlake(oops, { ...at, versions: { src: '11.1.3', dst: '11.1.3' } })?.id).toBe('x86-tcg-postcopy-guest-oops');
    // A build it does not name (the default 10.0, or a new master) is red, not retried.
    expect(knownFlake(oops, { ...at, versions: { src: '10.0.2', dst: '10.0.2' } })).toBeUndefined();
    expect(knownFlake(oops, { ...at, mode: undefined })).toBeUndefined();
    expect(knownFlake(oops, { ...at, accel: 'kvm' })).toBeUndefined();
    expect(knownFlake(oops, { ...at, arch: 'aarch64' })).toBeUndefined();
    expect(knownFlake({ kind: 'guest-died', error: 'the heartbeat stopped' }, at)).toBeUndefined();
    expect(knownFlake({ kind: 'migrated' }, at)).toBeUndefined();
  });

  it("checks a case's own flakes first; without versions they apply to every version", () => {
    const own: KnownFlake = { id: 'mine', arch: 'aarch64', modes: ['postcopy'], outcome: 'guest-died', message: /sysrq/, why: 'made' };
    const sysrq = { kind: 'guest-died' as const, error: 'the guest kernel crashed on the destination: sysrq: Trigger a crash' };
    expect(knownFlake(sysrq, { ...at, arch: 'aarch64', versions: { src: '10.0.2', dst: '10.0.2' } }, [own])?.id).toBe('mine');
    expect(knownFlake(sysrq, { ...at, arch: 'aarch64' })).toBeUndefined();
  });
});
