import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { scale } from '../../util/deadlines.js';
import { MigtestError } from '../../util/errors.js';

/** How to reach a host over ssh, and how its key is known. */
export interface SshTarget {
  /** The host's name in the hosts file ("src", "dst"). */
  name: string;
  address: string;
  port?: number;
  user?: string;
  /** Private key file for public-key authentication. */
  identityFile: string;
  /** The host's public key, pinned ("ssh-ed25519 AAAA..."); or: */
  hostKey?: string;
  /** A known_hosts file to look the host up in (hashed entries too). */
  knownHosts?: string;
  /** Keepalive: a probe every intervalMs; after countMax unanswered the link counts as lost. */
  keepalive?: { intervalMs: number; countMax: number };
  /** Channels at once on the connection (sshd's MaxSessions, 10 by default). */
  maxSessions?: number;
  /** The hosts file this target came from: the reaper reconnects with it. */
  hostsFile?: string;
  /** After the control link was lost, how long an operation waits for it, reconnecting, before it fails (0: at once). Default 60 s. */
  relinkMs?: number;
}

export class HostKeyError extends MigtestError {}
export class ControlLinkError extends MigtestError {}

const fingerprint = (blob: Buffer) => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/** The key blobs known for `host[:port]` in a known_hosts text (plain and hashed names). */
export function knownHostKeys(text: string, address: string, port = 22): Buffer[] {
  const name = port === 22 ? address : `[${address}]:${port}`;
  const out: Buffer[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 3 || words[0]!.startsWith('#') || words[0]!.startsWith('@')) continue;
    const [hosts, , b64] = words as [string, string, string];
    const matches = hosts.startsWith('|1|')
      ? (() => {
          const [, , salt, hash] = hosts.split('|');
          return createHmac('sha1', Buffer.from(salt!, 'base64')).update(name).digest('base64') === hash;
        })()
      : hosts.split(',').includes(name);
    if (matches) out.push(Buffer.from(b64, 'base64'));
  }
  return out;
}

/** Opens an ssh connection to a target, its host key verified against the pinned key or known_hosts. */
export function open(t: SshTarget, timeoutMs: number): Promise<Client> {
  const known = t.hostKey
    ? [Buffer.from(t.hostKey.trim().split(/\s+/)[1] ?? '', 'base64')]
    : t.knownHosts
      ? knownHostKeys(readFileSync(t.knownHosts, 'utf8'), t.address, t.port)
      : [];
  if (!known.length)
    throw new HostKeyError(`host ${t.name}: no key to verify ${t.address} against`, { field: 'hostKey or knownHosts', allowed: 'the host key pinned, or a known_hosts file that lists it' });
  let offered: Buffer | undefined;
  const c = new Client();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.end();
      reject(new ControlLinkError(`host ${t.name}: no ssh connection to ${t.address}:${t.port ?? 22} within ${timeoutMs} ms`));
    }, scale(timeoutMs));
    c.once('ready', () => {
      clearTimeout(timer);
      resolve(c);
    });
    // Not once: a handshake that timed out is followed by "Connection lost before handshake"
    // when the socket closes, and an error with no listener is an uncaught exception.
    c.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(
        offered && !known.some((k) => k.equals(offered!))
          ? new HostKeyError(`host ${t.name}: ${t.address} offered host key ${fingerprint(offered)}, not the one on record (${known.map(fingerprint).join(', ')}): refused`)
          : new ControlLinkError(`host ${t.name}: ssh to ${t.address}:${t.port ?? 22}: ${e.message}`),
      );
    });
    c.connect({
      host: t.address,
      port: t.port ?? 22,
      username: t.user ?? 'root',
      privateKey: readFileSync(t.identityFile),
      hostVerifier: (key: Buffer) => {
        offered = key;
        return known.some((k) => k.equals(key));
      },
      keepaliveInterval: t.keepalive?.intervalMs ?? 2000,
      keepaliveCountMax: t.keepalive?.countMax ?? 3,
      readyTimeout: timeoutMs,
    });
  });
}
