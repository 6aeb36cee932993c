import { mkdtempSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestAgentClient } from './agent.js';
import { QmpCommandError } from './errors.js';

/** A fake agent: answers syncs; `answer(conn, cmd)` decides the rest (undefined: no reply). */
function fakeAgent(answer: (conn: number, cmd: string) => Record<string, unknown> | undefined) {
  const path = join(mkdtempSync('/tmp/migtest-qga-'), 'qga.sock');
  let conns = 0;
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    const n = ++conns;
    sockets.push(s);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as { execute: string; id: string; arguments?: { id?: number } };
        buf = buf.slice(i + 1);
        const reply = msg.execute === 'guest-sync-delimited' ? { return: msg.arguments?.id } : answer(n, msg.execute);
        if (msg.execute === 'guest-sync-delimited') s.write(Buffer.from([0xff]));
        if (reply) s.write(`${JSON.stringify({ ...reply, id: msg.id })}\n`);
      }
    });
  });
  server.listen(path);
  return { path, connections: () => conns, close: () => { sockets.forEach((s) => s.destroy()); server.close(); } };
}

describe('GuestAgentClient', () => {
  let close = () => {};
  afterEach(() => close());

  it('remakes the connection once when a repeatable exchange goes unanswered, and counts it', async () => {
    const agent = fakeAgent((conn) => (conn === 1 ? undefined : { return: {} }));
    close = agent.close;
    const ga = await GuestAgentClient.connect(agent.path, 't');
    await ga.ping(300);
    expect(ga.reconnects).toBe(1);
    expect(agent.connections()).toBe(2);
    await ga.close();
  });

  it("passes the agent's own errors through without reconnecting", async () => {
    const agent = fakeAgent(() => ({ error: { class: 'GenericError', desc: 'no such file' } }));
    close = agent.close;
    const ga = await GuestAgentClient.connect(agent.path, 't');
    await expect(ga.readFile('/nope')).rejects.toBeInstanceOf(QmpCommandError);
    expect(ga.reconnects).toBe(0);
    await ga.close();
  });
});
