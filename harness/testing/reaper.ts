import { reapNetns } from '../faults/netns.js';
import { reapNftTables } from '../faults/nft.js';
import { formatReaped, reapOrphans, takeUnreported } from '../host/registry.js';
import { reapRemoteOrphans } from '../host/remote-reaper.js';

/** Removes what a killed runner left (process groups, nftables tables, namespaces) and says what it was. */
export async function reapAtStart(): Promise<string[]> {
  reapOrphans('reaper');
  const unreachable = await reapRemoteOrphans();
  const tables = await reapNftTables();
  const namespaces = await reapNetns();
  return [
    ...takeUnreported().map(formatReaped),
    ...unreachable,
    ...tables.map((t) => `reaper removed nftables table ${t} left by a dead runner`),
    ...namespaces.map((n) => `reaper removed network namespace ${n} left by a dead runner`),
  ];
}
