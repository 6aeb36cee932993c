import { runConfig } from '../util/run-config.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../util/paths.js';
import { isAlive } from './procfs.js';
import { reapOrphans, selfIdentity } from './registry.js';

/**
 * A detached process that outlives a SIGKILLed runner: when its owner is gone it kills
 * the process groups the owner registered, then exits.
 */
let started = false;
/** This file by its place in the repository: the CLI runs bundled, where import.meta.url is the bundle's. */
const SELF = join(repoRoot, 'harness/host/watchdog.ts');

export function ensureWatchdog(): void {
  if (started || !runConfig().watchdog) return;
  started = true;
  const me = selfIdentity();
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), SELF, String(me.pid), String(me.startTime)],
    { detached: true, stdio: 'ignore', env: { ...process.env, MIGTEST_WATCHDOG_CHILD: '1' } },
  );
  child.unref();
}

async function watch(owner: number, ownerStart: number): Promise<void> {
  while (isAlive(owner, ownerStart)) await new Promise((r) => setTimeout(r, 250));
  reapOrphans('watchdog', owner);
}

if (process.env.MIGTEST_WATCHDOG_CHILD === '1' && process.argv[1] === SELF) {
  process.title = 'migtest-watchdog';
  await watch(Number(process.argv[2]), Number(process.argv[3]));
  process.exit(0);
}
