import { deadline, type Wait } from '../util/deadlines.js';
import { createServer, type Socket } from 'node:net';
import { pollUntil } from '../util/time.js';

/** A loopback listener on a port the kernel chose (port 0): the port is ours while it is open. */
export interface LoopbackListener {
  port: number;
  /** Connections accepted so far, and how many of them the peer has closed. */
  accepted: number;
  closedByPeer: number;
  waitForClosedConnection(awaited: string, opts?: Wait): Promise<void>;
  close(): Promise<void>;
}

export async function loopbackListener(): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    l.accepted++;
    sockets.add(s);
    s.resume();
    s.on('close', () => {
      l.closedByPeer++;
      sockets.delete(s);
    });
    s.on('error', () => undefined);
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const l: LoopbackListener = {
    port: (server.address() as { port: number }).port,
    accepted: 0,
    closedByPeer: 0,
    waitForClosedConnection: (awaited, opts = {}) =>
      pollUntil(awaited, deadline(opts, 'helper'), () => ({ done: l.closedByPeer > 0, state: { accepted: l.accepted, closed: l.closedByPeer } }), 50),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return l;
}

/**
 * A loopback port free right now: bound with port 0, read back, closed. Another process may
 * take it before it is used; QEMU then says so (Address already in use).
 */
export async function freePort(): Promise<number> {
  const l = await loopbackListener();
  await l.close();
  return l.port;
}

/** A loopback port that was ours a moment ago and now has no listener: the kernel answers RST. */
export const closedLoopbackPort = freePort;
