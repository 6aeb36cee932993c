import { runConfig } from './run-config.js';

/** Progress lines on stderr, so stdout stays for results. MIGTEST_QUIET=1 silences them. */
export function progress(msg: string): void {
  if (runConfig().quiet) return;
  process.stderr.write(`[migtest ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const once = new Set<string>();
/** Says a thing once per process (the TCG fallback, say). */
export function progressOnce(key: string, msg: string): void {
  if (once.has(key)) return;
  once.add(key);
  progress(msg);
}
