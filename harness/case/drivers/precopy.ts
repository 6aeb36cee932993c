import { NOTHING_MORE, type ModeDriver } from './driver.js';

/** Precopy: migrate and wait. Faults fire at their triggers; nothing is recovered. */
export const precopy: ModeDriver = {
  ...NOTHING_MORE,
  /** 32 MiB dirtied at 16 MiB/s: converges, yet every pass has pages to send again. */
  workload: { mib: 32, rateMiBs: 16 },
  bridged: false,
  settings: () => undefined,
};
