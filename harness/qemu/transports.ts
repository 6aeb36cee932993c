import { compareVersions } from './catalog.js';

/** First QEMU release with a transport (not probeable through QMP before use). */
export const TRANSPORT_SINCE: Record<string, string> = { file: '8.2' };

/** Whether a QEMU of this version has the migration transport. */
export function hasTransport(transport: string, version: string): boolean {
  const since = TRANSPORT_SINCE[transport];
  return !since || compareVersions(version, since) >= 0;
}

