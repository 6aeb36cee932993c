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
