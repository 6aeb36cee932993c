import { reapNftTables } from '../faults/nft.js';
import { formatReaped, reapOrphans, takeUnreported } from './registry.js';

/** Removes what a killed runner left (process groups, nftables tables) and says what it was. */
export async function reapAtStart(): Promise<string[]> {
  reapOrphans('reaper');
  const tables = await reapNftTables();
  return [...takeUnreported().map(formatReaped), ...tables.map((t) => `reaper removed nftables table ${t} left by a dead runner`)];
}
