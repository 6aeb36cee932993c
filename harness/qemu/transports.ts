import { compareVersions } from './catalog.js';

/** First QEMU release with a transport (not probeable through QMP before use). */
const TRANSPORT_SINCE: Record<string, string> = { file: '8.2' };

/** Whether a QEMU of this version has the migration transport. */
export function hasTransport(transport: string, version: string): boolean {
  const since = TRANSPORT_SINCE[transport];
  return !since || compareVersions(version, since) >= 0;
}

/** Why a QEMU of this version cannot use the transport on that side, or undefined if it can. */
export function lacksTransport(transport: string, version: string, side: string): string | undefined {
  return hasTransport(transport, version) ? undefined : `QEMU ${version} (${side}) has no ${transport}: transport (since ${TRANSPORT_SINCE[transport]})`;
}
