import { describe, expect, it } from 'vitest';
import { lockedBytes, locksFromBytes } from './locks.js';

describe('image locks from fdinfo', () => {
  it('maps QEMU lock bytes onto held and unshared permissions', () => {
    const fdinfo = ['pos:\t0', 'flags:\t02100002', 'lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:42 100 101', 'lock:\t2: OFDLCK ADVISORY  READ -1 fe:00:42 203 203'].join('\n');
    expect(lockedBytes(fdinfo)).toEqual([100, 101, 203]);
    expect(locksFromBytes(lockedBytes(fdinfo))).toEqual({ holds: ['consistent-read', 'write'], unshared: ['resize'] });
    expect(locksFromBytes([])).toEqual({ holds: [], unshared: [] });
  });
});
