import { existsSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { MigtestError } from '../util/errors.js';
import { pollUntil } from '../util/time.js';
import { shellQuote } from '../util/shell.js';
import type { StartedVm } from '../vm/started.js';

export const TRANSPORTS = ['tcp', 'unix', 'exec', 'fd', 'file'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Streaming transports: the destination listens before the source sends. `file` is not one. */
export const isStreaming = (t: Transport) => t !== 'file';

/** Directory private to the destination (0700): its sockets and state files go there. */
const dstDir = (dst: StartedVm) => dirname(dst.paths.qmp);

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1';

/**
 * exec: between two hosts (the destination listens on a migration address, not loopback):
 * socat listens on a port the kernel chooses there instead of a unix socket only its host sees.
 */
export const execOverTcp = (transport: Transport, listenHost: string | undefined) => transport === 'exec' && !!listenHost && !isLoopback(listenHost);

/**
 * Where the destination listens: loopback port 0, a unix socket or an exec'd socat in its
 * private directory, a socket passed by name (fd:), or a file.
 */
export function incomingUri(dst: StartedVm, transport: Transport, listenHost = '127.0.0.1'): string {
  switch (transport) {
    case 'tcp':
      return `tcp:${listenHost}:0`;
    case 'unix':
      return `unix:${join(dstDir(dst), 'migrate.sock')}`;
    case 'exec':
      // QEMU runs this with /bin/sh; the path is ours (a private directory), quoted; an address is checked.
      if (execOverTcp(transport, listenHost)) return `exec:socat ${socatListen(listenHost)} -`;
      return `exec:socat UNIX-LISTEN:${shellQuote(join(dstDir(dst), 'exec.sock'))} -`;
    case 'fd':
      return 'fd:migfd';
    case 'file':
      return `file:${join(dstDir(dst), 'migration.img')}`;
  }
}

/** socat's listening address for an IPv4 or IPv6 address, port 0; anything else is refused, never put in a shell line. */
function socatListen(host: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return `TCP4-LISTEN:0,bind=${host}`;
  if (/^[0-9a-fA-F:]+$/.test(host)) return `TCP6-LISTEN:0,bind=[${host}]`;
  throw new MigtestError(`exec transport across hosts: the destination's migration address must be an IP address, not '${host}'`);
}

const socatConnect = (host: string, port: number) => (host.includes(':') ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`);

/**
 * The URI the source migrates to, read back from the destination where it chose (port 0).
 * exec across hosts: the port socat got, the one its group listens on that was not before
 * migrate-incoming (`before`).
 */
export async function outgoingUri(dst: StartedVm, transport: Transport, exec: { listenHost?: string; before?: ReadonlySet<number> } = {}): Promise<string> {
  switch (transport) {
    case 'tcp':
    case 'unix': {
      const info = await dst.queryMigrate();
      const addr = info['socket-address']?.[0];
      if (!addr) throw new MigtestError(`${dst.name}: query-migrate has no socket-address after migrate-incoming`, { info });
      if (transport === 'tcp') {
        if (addr.type !== 'inet' || !addr.port) throw new MigtestError(`${dst.name}: unexpected socket-address ${JSON.stringify(addr)}`);
        return `tcp:${addr.host ?? '127.0.0.1'}:${addr.port}`;
      }
      return `unix:${addr.path}`;
    }
    case 'exec': {
      if (execOverTcp(transport, exec.listenHost)) {
        const fresh = await dst.waitNewListener(exec.before ?? new Set(), `exec transport's socat to listen on ${exec.listenHost} (host ${dst.on.name})`, { timeoutMs: 10_000 });
        if (fresh.length !== 1) throw new MigtestError(`${dst.name}: expected one new listening port for the exec transport's socat, found ${JSON.stringify(fresh)}`);
        return `exec:socat - ${socatConnect(exec.listenHost!, fresh[0]!)}`;
      }
      const sock = join(dstDir(dst), 'exec.sock');
      await pollUntil(`${dst.name}: exec transport's socat to listen on ${sock}`, 10_000, () => ({ done: existsSync(sock) }));
      return `exec:socat - UNIX-CONNECT:${shellQuote(sock)}`;
    }
    case 'fd':
      return 'fd:migfd';
    case 'file':
      return incomingUri(dst, 'file');
  }
}

/** A connected pair of loopback sockets, one end for each QEMU (the fd: transport). */
export interface FdPair {
  srcFd: number;
  dstFd: number;
  /** Closes the harness's copy of an end once its QEMU holds it. */
  closeSrc(): void;
  closeDst(): void;
}

/**
 * The harness must never read from its copies: they share the connection with QEMU's, and
 * any byte Node reads is a byte stolen from the migration stream. So no reading at all.
 */
export async function socketPair(): Promise<FdPair> {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const a = connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => a.once('connect', resolve).once('error', reject));
  a.pause();
  const b = await accepted;
  server.close();
  const fd = (s: Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
  // destroy() closes our descriptor only (no shutdown): QEMU's duplicate stays connected.
  return { srcFd: fd(a), dstFd: fd(b), closeSrc: () => a.destroy(), closeDst: () => b.destroy() };
}
