import { createServer } from 'node:net';

/** A loopback listener on a port the kernel chose (port 0): the port is ours while it is open. */
export async function loopbackListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
