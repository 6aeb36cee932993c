import type { ModeDriver } from './driver.js';
import { postcopy } from './postcopy.js';
import { precopy } from './precopy.js';
import { recovery } from './recovery.js';
import { cprExec } from './cpr-exec.js';
import { cprTransfer } from './cpr-transfer.js';

/** Every migration mode, by the name a case gives in `migration.mode`. */
export const DRIVERS = { precopy, postcopy, recovery, 'cpr-transfer': cprTransfer, 'cpr-exec': cprExec } satisfies Record<string, ModeDriver>;

export type Mode = keyof typeof DRIVERS;
export const MODES = Object.keys(DRIVERS) as Mode[];

export function driverFor(mode: Mode | undefined): ModeDriver {
  return DRIVERS[mode ?? 'precopy'];
}

export type { ModeDriver } from './driver.js';
export { POSTCOPY_THROTTLE } from './postcopy.js';
