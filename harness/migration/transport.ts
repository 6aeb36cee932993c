import { existsSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { MigtestError } from '../util/errors.js';
import { pollUntil } from '../util/time.js';
import { DEADLINES } from '../util/deadlines.js';
import { hasTransport, TRANSPORT_SINCE } from '../qemu/transports.js';
import { shellQuote } from '../util/shell.js';
import type { StartedVm } from '../vm/started.js';

export const TRANSPORTS = ['tcp', 'unix', 'exec', 'fd', 'file'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Directory private to the destination (0700): its sockets and state files go there. */
const dstDir = (dst: StartedVm) => dirname(dst.paths.qmp);

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1';

/** What outgoingUri needs besides the destination: where it listens, (exec across hosts) the ports before, (file) the offset in the file. */
export interface UriContext {
  listenHost?: string;
  before?: ReadonlySet<number>;
  /** file: where in the file the stream starts (QEMU's `offset=`; a string is sent as it is, to test QEMU's parsing). */
  offset?: number | string;
}

/** The file the `file` transport writes in a destination's private directory (cpr-exec names it before its destination exists). */
export const fileTransportPathIn = (dir: string) => join(dir, 'migration.img');
/** The file the `file` transport writes, in the destination's private directory. */
export const fileTransportPath = (dst: StartedVm) => fileTransportPathIn(dstDir(dst));

/**
 * A migration transport: its URIs on each side, the first QEMU release that has it, whether
 * it crosses two hosts, and whether the harness hands QEMU descriptors (fd passing).
 */
export interface TransportKind {
  readonly name: Transport;
  /** First QEMU release with it (not probeable through QMP before use); undefined: every release. */
  readonly since?: string;
  /** The destination listens before the source sends; `file` is written, then read. */
  readonly streaming: boolean;
  /** Why it cannot join two hosts; undefined when it can. */
  readonly oneHost?: string;
  /** Each QEMU gets a descriptor by name over its second monitor (SCM_RIGHTS), not a URI it opens itself. */
  readonly passesFd: boolean;
  /** Where the destination listens (or what it reads). */
  incomingUri(dst: StartedVm, listenHost?: string, ctx?: UriContext): string;
  /** The URI the source migrates to, read back where the destination chose (port 0). */
  outgoingUri(dst: StartedVm, ctx?: UriContext): Promise<string>;
  /** Why a QEMU of `version` cannot use it on `side`, or undefined. */
  lacks(version: string, side: string): string | undefined;
}

function kind(name: Transport, k: Omit<TransportKind, 'name' | 'since' | 'lacks'>): TransportKind {
  const since = TRANSPORT_SINCE[name];
  return {
    name,
    since,
    ...k,
    lacks: (version, side) => (hasTransport(name, version) ? undefined : `QEMU ${version} (${side}) has no ${name}: transport (since ${since})`),
  };
}

/** The socket address the destination reports after migrate-incoming (tcp, unix). */
async function socketAddress(dst: StartedVm): Promise<{ type: string; host?: string; port?: string | number; path?: string }> {
  const info = await dst.queryMigrate();
  const addr = info['socket-address']?.[0];
  if (!addr) throw new MigtestError(`${dst.name}: query-migrate has no socket-address after migrate-incoming`, { info });
  return addr;
}

export const TRANSPORT_KINDS: Record<Transport, TransportKind> = {
  tcp: kind('tcp', {
    streaming: true,
    passesFd: false,
    incomingUri: (_dst, listenHost = '127.0.0.1') => `tcp:${listenHost}:0`,
    outgoingUri: async (dst) => {
      const addr = await socketAddress(dst);
      if (addr.type !== 'inet' || !addr.port) throw new MigtestError(`${dst.name}: unexpected socket-address ${JSON.stringify(addr)}`);
      return `tcp:${addr.host ?? '127.0.0.1'}:${addr.port}`;
    },
  }),
  unix: kind('unix', {
    streaming: true,
    passesFd: false,
    oneHost: 'a unix socket only its host sees',
    incomingUri: (dst) => `unix:${join(dstDir(dst), 'migrate.sock')}`,
    outgoingUri: async (dst) => `unix:${(await socketAddress(dst)).path}`,
  }),
  exec: kind('exec', {
    streaming: true,
    passesFd: false,
    incomingUri: (dst, listenHost) => {
      // QEMU runs this with /bin/sh; the path is ours (a private directory), quoted; an address is checked.
      if (execOverTcp('exec', listenHost)) return `exec:socat ${socatListen(listenHost!)} -`;
      return `exec:socat UNIX-LISTEN:${shellQuote(join(dstDir(dst), 'exec.sock'))} -`;
    },
    outgoingUri: async (dst, ctx = {}) => {
      if (execOverTcp('exec', ctx.listenHost)) {
        const fresh = await dst.waitNewListener(ctx.before ?? new Set(), `exec transport's socat to listen on ${ctx.listenHost} (host ${dst.on.name})`);
        if (fresh.length !== 1) throw new MigtestError(`${dst.name}: expected one new listening port for the exec transport's socat, found ${JSON.stringify(fresh)}`);
        return `exec:socat - ${socatConnect(ctx.listenHost!, fresh[0]!)}`;
      }
      const sock = join(dstDir(dst), 'exec.sock');
      await pollUntil(`${dst.name}: exec transport's socat to listen on ${sock}`, DEADLINES.listen, () => ({ done: existsSync(sock) }));
      return `exec:socat - UNIX-CONNECT:${shellQuote(sock)}`;
    },
  }),
  fd: kind('fd', {
    streaming: true,
    passesFd: true,
    oneHost: 'one socketpair between the two QEMUs',
    incomingUri: () => 'fd:migfd',
    outgoingUri: async () => 'fd:migfd',
  }),
  file: kind('file', {
    streaming: false,
    passesFd: false,
    oneHost: "a file the destination's host reads",
    incomingUri: (dst, _host, ctx = {}) => `file:${fileTransportPath(dst)}${ctx.offset !== undefined ? `,offset=${ctx.offset}` : ''}`,
    outgoingUri: async (dst, ctx = {}) => `file:${fileTransportPath(dst)}${ctx.offset !== undefined ? `,offset=${ctx.offset}` : ''}`,
  }),
};

/** The transport a migration names, or tcp: the one place that decides the default. */
export const transportKind = (t: Transport | undefined): TransportKind => TRANSPORT_KINDS[t ?? 'tcp'];

/** Streaming transports: the destination listens before the source sends. `file` is not one. */
export const isStreaming = (t: Transport) => TRANSPORT_KINDS[t].streaming;

/**
 * exec: between two hosts (the destination listens on a migration address, not loopback):
 * socat listens on a port the kernel chooses there instead of a unix socket only its host sees.
 */
export const execOverTcp = (transport: Transport, listenHost: string | undefined) => transport === 'exec' && !!listenHost && !isLoopback(listenHost);

/** Where the destination listens (see TransportKind.incomingUri). */
export const incomingUri = (dst: StartedVm, transport: Transport, listenHost?: string): string => TRANSPORT_KINDS[transport].incomingUri(dst, listenHost);

/** socat's listening address for an IPv4 or IPv6 address, port 0; anything else is refused, never put in a shell line. */
function socatListen(host: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return `TCP4-LISTEN:0,bind=${host}`;
  if (/^[0-9a-fA-F:]+$/.test(host)) return `TCP6-LISTEN:0,bind=[${host}]`;
  throw new MigtestError(`exec transport across hosts: the destination's migration address must be an IP address, not '${host}'`);
}

const socatConnect = (host: string, port: number) => (host.includes(':') ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`);

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
