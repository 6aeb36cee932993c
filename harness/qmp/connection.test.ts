import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadlineError } from '../util/errors.js';
import { JsonConnection } from './connection.js';
import { Transcript } from './transcript.js';

describe('JsonConnection.open', () => {
  it('waits for a socket that is not there or not listening yet (QEMU binds before it listens)', async () => {
    const path = join(mkdtempSync('/tmp/migtest-conn-'), 'qmp.sock');
    const server = createServer();
    setTimeout(() => server.listen(path), 150);
    const s = await JsonConnection.open(path, 't', new Transcript('t'), 5_000);
    s.destroy();
    server.close();
  });

  it('gives up at the deadline, naming what it waited for', async () => {
    const path = join(mkdtempSync('/tmp/migtest-conn-'), 'never.sock');
    const e = await JsonConnection.open(path, 't', new Transcript('t'), 200).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeadlineError);
    expect((e as Error).message).toMatch(/t: connect to .*never.sock/);
  });
});

describe('JsonConnection.close with a reason', () => {
  it('fails every request still waiting with that reason at once, not at its deadline', async () => {
    const { Duplex } = await import('node:stream');
    // A peer that never answers: what is written goes nowhere.
    const socket = new Duplex({ read() {}, write(_c, _e, done) { done(); } });
    const conn = new JsonConnection('dst', socket, new Transcript('dst.qga'), 30_000);
    const asked = Date.now();
    const waiting = conn.request({ execute: 'guest-file-open', id: 'ga-1' }, 'ga-1', 'guest-file-open').catch((e: unknown) => e);
    const reason = new Error('dst: the guest reset');
    conn.close(reason);
    expect(await waiting).toBe(reason);
    expect(Date.now() - asked).toBeLessThan(1_000);
    expect(conn.closed).toBe(true);
    await expect(conn.request({ execute: 'guest-ping', id: 'ga-2' }, 'ga-2', 'guest-ping')).rejects.toBe(reason);
  });
});
