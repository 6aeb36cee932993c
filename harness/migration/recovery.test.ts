import { describe, expect, it } from 'vitest';
import type { QmpEvent } from '../qmp/types.js';
import { attemptFailure } from './recovery.js';

const ev = (status: string, at: number): QmpEvent => ({ event: 'MIGRATION', data: { status }, timestamp: { seconds: 0, microseconds: 0 }, receivedAt: at });

describe('attemptFailure', () => {
  it('ignores the last attempt\'s paused event delivered late', () => {
    // CI, aarch64 on 10.0.2: the first failed resume's event arrived after the second began.
    expect(attemptFailure([ev('postcopy-paused', 1), ev('postcopy-recover-setup', 2), ev('postcopy-recover', 3)])).toBeUndefined();
  });
  it('takes a pause once the source had left paused', () => {
    expect(attemptFailure([ev('postcopy-recover-setup', 1), ev('postcopy-paused', 2)])?.receivedAt).toBe(2);
  });
  it('takes failed wherever it is', () => {
    expect(attemptFailure([ev('failed', 1)])?.receivedAt).toBe(1);
  });
});
