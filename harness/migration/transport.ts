import { join } from 'node:path';
import { ConfigError, MigtestError } from '../util/errors.js';
import type { StartedVm } from '../vm/started.js';

export const TRANSPORTS = ['tcp', 'unix'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export function parseTransport(v: string): Transport {
  if ((TRANSPORTS as readonly string[]).includes(v)) return v as Transport;
  throw new ConfigError('transport', `'${v}'`, TRANSPORTS);
}

/** The URI the destination listens on: loopback port 0, or a socket in its private directory. */
export function listenUri(dst: StartedVm, transport: Transport): string {
  return transport === 'tcp' ? 'tcp:127.0.0.1:0' : `unix:${join(dst.paths.qmp, '..', 'migrate.sock')}`;
}

/** Reads back where the destination really listens (the real port for port 0). */
export async function sourceUri(dst: StartedVm, transport: Transport): Promise<string> {
  const info = await dst.queryMigrate();
  const addr = info['socket-address']?.[0];
  if (!addr) throw new MigtestError(`${dst.name}: query-migrate has no socket-address after migrate-incoming`, { info });
  if (transport === 'tcp') {
    if (addr.type !== 'inet' || !addr.port) throw new MigtestError(`${dst.name}: unexpected socket-address ${JSON.stringify(addr)}`);
    return `tcp:${addr.host ?? '127.0.0.1'}:${addr.port}`;
  }
  return `unix:${addr.path}`;
}
