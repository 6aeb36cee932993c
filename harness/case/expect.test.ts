import { describe, expect, it } from 'vitest';
import { checkOutcome, expectedLabel, outcomeLabel } from './expect.js';
import { destinationSetup } from './pair.js';
import type { Expectation, Outcome } from './model.js';

const refusedStream: Expectation = { kind: 'refused', side: 'destination', stage: 'stream', message: 'Size mismatch', why: 'RAM sizes differ' };

describe('checkOutcome', () => {
  it('matches each expectation with its outcome and names both when they differ', () => {
    expect(checkOutcome({ kind: 'migrates' }, { kind: 'migrated' }).ok).toBe(true);
    expect(checkOutcome(refusedStream, { kind: 'refused', side: 'destination', stage: 'stream', error: 'Size mismatch: pc.ram: 0x1 != 0x2' }).ok).toBe(true);
    const wrongWords = checkOutcome(refusedStream, { kind: 'refused', side: 'destination', stage: 'stream', error: 'Unknown ramblock' });
    expect(wrongWords).toMatchObject({ ok: false, message: 'expected the destination to refuse the stream saying "Size mismatch" (RAM sizes differ), but refused by the destination (the stream): Unknown ramblock' });
    const migrated = checkOutcome(refusedStream, { kind: 'migrated' });
    expect(migrated.message).toMatch(/but migrated$/);
    expect(checkOutcome({ kind: 'fails', status: 'cancelled' }, { kind: 'failed', status: 'failed', error: 'x' }).ok).toBe(false);
    expect(checkOutcome({ kind: 'guest-lost', side: 'source' }, { kind: 'guest-lost', side: 'destination', error: 'e' }).ok).toBe(false);
    expect(checkOutcome({ kind: 'dst-start-fails', message: 'unsupported machine type', why: 'w' }, { kind: 'dst-start-failed', error: "qemu: unsupported machine type 'pc-q35-10.0'" }).ok).toBe(true);
    // Without return-path the source may complete before the destination refuses: the same refusal.
    const raced = checkOutcome(refusedStream, { kind: 'lost', error: 'the destination failed; the destination said: Size mismatch: pc.ram' });
    expect(raced).toMatchObject({ ok: true, verdict: expect.stringMatching(/refused by the destination, as expected; the source had already completed: lost/) });
    expect(checkOutcome(refusedStream, { kind: 'lost', error: 'the destination said: Unknown ramblock' }).ok).toBe(false);
    // A side refusing its settings is not the stream being refused.
    expect(checkOutcome(refusedStream, { kind: 'refused', side: 'destination', stage: 'settings', error: 'Size mismatch' }).ok).toBe(false);
  });

  it('labels outcomes and expectations alike for the compat report', () => {
    const pairs: Array<[Expectation, Outcome]> = [
      [{ kind: 'migrates' }, { kind: 'migrated' }],
      [{ kind: 'guest-dies', why: 'w' }, { kind: 'guest-died', error: 'e' }],
      [{ kind: 'fails', status: 'cancelled' }, { kind: 'failed', status: 'cancelled' }],
      [refusedStream, { kind: 'refused', side: 'destination', stage: 'stream', error: 'e' }],
    ];
    for (const [e, o] of pairs) expect(expectedLabel(e)).toBe(outcomeLabel(o));
  });

  it("merges the destination's setup over the source's, configure functions composed", () => {
    const calls: string[] = [];
    const d = destinationSetup({
      source: { qemu: '7.2', devices: ['a'], args: ['-x'], configure: (b) => (calls.push('src'), b) },
      destination: { devices: [], configure: (b) => (calls.push('dst'), b) },
    });
    expect(d).toMatchObject({ qemu: '7.2', devices: [], args: ['-x'] });
    d.configure!({} as never);
    expect(calls).toEqual(['src', 'dst']);
  });
});
