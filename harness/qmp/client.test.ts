import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from './client.js';
import { QmpCommandError } from './errors.js';
import { DeadlineError } from '../util/errors.js';

// A scripted monitor: tests the client's framing, id matching, OOB negotiation and events.
// Evidence that QEMU behaves so comes from the end-to-end suites, not from here.
function fakeMonitor(oob: boolean, onCommand: (msg: Record<string, unknown>, sock: Socket) => void): Promise<{ path: string; server: Server }> {
  const path = join(mkdtempSync('/tmp/migtest-unit-'), 'qmp.sock');
  const server = createServer((sock) => {
    sock.write(`${JSON.stringify({ QMP: { version: { qemu: { major: 10, minor: 0, micro: 2 }, package: '' }, capabilities: oob ? ['oob'] : [] } })}\r\n`);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        onCommand(msg, sock);
      }
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server })));
}

const reply = (sock: Socket, m: Record<string, unknown>) => sock.write(`${JSON.stringify(m)}\r\n`);

describe('QmpClient', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('negotiates OOB when offered and matches replies by id, out of order', async () => {
    const seen: Record<string, unknown>[] = [];
    const held: Array<() => void> = [];
    const m = await fakeMonitor(true, (msg, sock) => {
      seen.push(msg);
      if (msg.execute === 'slow') held.push(() => reply(sock, { return: 'slow', id: msg.id }));
      else reply(sock, { return: msg['exec-oob'] ?? msg.execute, id: msg.id });
      if (msg['exec-oob']) held.splice(0).forEach((f) => f());
    });
    server = m.server;
    const qmp = await QmpClient.connect(m.path, { vm: 'unit' });
    expect(qmp.oob).toBe(true);
    expect(qmp.version.major).toBe(10);
    expect(seen[0]).toMatchObject({ execute: 'qmp_capabilities', arguments: { enable: ['oob'] } });
    const slow = qmp.execute('slow');
    const fast = qmp.executeOob('migrate-recover', { uri: 'tcp:127.0.0.1:1' });
    expect(await fast).toBe('migrate-recover');
    expect(await slow).toBe('slow');
    expect(seen.every((s) => typeof s.id === 'string')).toBe(true);
    await qmp.close();
  });

  it('falls back to in-band when OOB is not offered', async () => {
    const seen: Record<string, unknown>[] = [];
    const m = await fakeMonitor(false, (msg, sock) => {
      seen.push(msg);
      reply(sock, { return: {}, id: msg.id });
    });
    server = m.server;
    const qmp = await QmpClient.connect(m.path, { vm: 'unit' });
    expect(seen[0]).toEqual({ execute: 'qmp_capabilities', id: expect.any(String) });
    await qmp.executeOob('migrate-pause');
    expect(seen[1]).toMatchObject({ execute: 'migrate-pause' });
    await qmp.close();
  });

  it('carries QEMU error class, desc, command and vm', async () => {
    const m = await fakeMonitor(true, (msg, sock) =>
      msg.execute === 'qmp_capabilities'
        ? reply(sock, { return: {}, id: msg.id })
        : reply(sock, { error: { class: 'GenericError', desc: 'Migrate recover can only be run when postcopy is paused.' }, id: msg.id }),
    );
    server = m.server;
    const qmp = await QmpClient.connect(m.path, { vm: 'dst' });
    const err = await qmp.execute('migrate-recover', { uri: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpCommandError);
    expect(err).toMatchObject({ vm: 'dst', command: 'migrate-recover', errorClass: 'GenericError' });
    expect((err as Error).message).toContain('postcopy is paused');
    await qmp.close();
  });

  it('waits for events with a predicate and a deadline naming the last event', async () => {
    const m = await fakeMonitor(true, (msg, sock) => {
      reply(sock, { return: {}, id: msg.id });
      if (msg.execute === 'go')
        for (const status of ['setup', 'active', 'completed'])
          reply(sock, { event: 'MIGRATION', data: { status }, timestamp: { seconds: 1, microseconds: 0 } });
    });
    server = m.server;
    const qmp = await QmpClient.connect(m.path, { vm: 'src' });
    const mark = qmp.mark();
    await qmp.execute('go');
    const e = await qmp.waitForEvent('MIGRATION', (ev) => ev.data?.status === 'completed', { timeoutMs: 2000, since: mark });
    expect(e.data).toEqual({ status: 'completed' });
    const seen: unknown[] = [];
    for await (const ev of qmp.iterateEvents(mark)) {
      seen.push(ev.data?.status);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['setup', 'active', 'completed']);
    const late = await qmp.waitForEvent('RESUME', () => true, { timeoutMs: 100 }).catch((x: unknown) => x);
    expect(late).toBeInstanceOf(DeadlineError);
    expect((late as Error).message).toMatch(/event RESUME.*MIGRATION/);
    expect(qmp.transcript.lines.some((l) => l.includes('-> {"execute":"go"'))).toBe(true);
    await qmp.close();
  });

  it('times out a command that gets no reply', async () => {
    const m = await fakeMonitor(true, (msg, sock) => {
      if (msg.execute === 'qmp_capabilities') reply(sock, { return: {}, id: msg.id });
    });
    server = m.server;
    const qmp = await QmpClient.connect(m.path, { vm: 'src' });
    await expect(qmp.execute('query-status', undefined, { timeoutMs: 100 })).rejects.toThrow(/reply to query-status/);
    await qmp.close();
  });
});
