import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { groupMembers } from '../host/procfs.js';
import { pollUntil } from '../util/time.js';
import { SocatBridge, type StartedBridge } from './bridge.js';

// Real socat (the fault layer is what the e2e suites trust), against a local echo server.
let server: Server | undefined;
const bridges: StartedBridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.stop();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

async function echoServer(): Promise<number> {
  server = createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
  await new Promise((r) => server!.once('listening', r));
  return (server.address() as { port: number }).port;
}

async function open(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
  return s;
}

function roundTrip(s: Socket, text: string, ms = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    s.once('data', (d) => {
      clearTimeout(t);
      resolve(d.toString());
    });
    s.write(text);
  });
}

describe('socat bridge', () => {
  it('forwards, reads back its port, and a kill takes the per-connection child too', async () => {
    const target = await echoServer();
    const b = await new SocatBridge({ host: '127.0.0.1', port: target }).start();
    bridges.push(b);
    expect(b.port).toBeGreaterThan(0);
    expect(b.uri).toBe(`tcp:127.0.0.1:${b.port}`);
    const c = await open(b.port);
    expect(await roundTrip(c, 'hello')).toBe('hello');
    await b.waitForConnections(1);
    // fork: the listener and a child per connection, one group.
    expect(groupMembers(b.process.pid).length).toBe(2);
    const closed = new Promise((r) => c.once('close', r));
    c.on('error', () => undefined);
    const dead = await b.kill();
    expect(groupMembers(b.process.pid)).toEqual([]);
    await closed;
    // Restart on the same port: a client of the old URI reaches the target again.
    const again = await dead.restart();
    bridges.push(again);
    expect(again.port).toBe(b.port);
    expect(await roundTrip(await open(again.port), 'again')).toBe('again');
  });

  it('a stall holds the connection open and silent; unstall lets it flow', async () => {
    const target = await echoServer();
    const b = await new SocatBridge({ host: '127.0.0.1', port: target }).start();
    bridges.push(b);
    const c = await open(b.port);
    expect(await roundTrip(c, 'one')).toBe('one');
    await b.stall();
    await pollUntil('bridge stopped', 5000, () => ({ done: groupMembers(b.process.pid).every((m) => m.state === 'T') }));
    expect(await roundTrip(c, 'two', 500)).toBeUndefined();
    await b.unstall();
    // The echo of "two" was only held back, not lost.
    expect(await new Promise((r) => c.once('data', (d) => r(d.toString())))).toBe('two');
    c.destroy();
  });

  it('a stalled bridge is still removed by stop()', async () => {
    const b = await new SocatBridge({ host: '127.0.0.1', port: await echoServer() }).start();
    await b.stall();
    await b.stop();
    expect(groupMembers(b.process.pid)).toEqual([]);
  });
});
