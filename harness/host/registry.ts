import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir } from '../util/paths.js';
import { groupMembers, isAlive, procStat } from './procfs.js';

/** One process group the harness started, recorded on disk so a later run can clean it up. */
export interface RegistryEntry {
  pgid: number;
  startTime: number;
  name: string;
  argv: string[];
  owner: { pid: number; startTime: number };
  createdAt: string;
  /** Started on another host (ssh): its name and the hosts file to reconnect with. */
  host?: { name: string; hostsFile?: string };
}

export interface ReapedGroup {
  entry: RegistryEntry;
  killed: number[];
  by: 'reaper' | 'watchdog';
  at: string;
}

function registryDir(): string {
  const d = join(stateDir(), 'registry');
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

const reapedLog = () => join(stateDir(), 'reaped.jsonl');

export function selfIdentity(): { pid: number; startTime: number } {
  return { pid: process.pid, startTime: procStat(process.pid)?.startTime ?? 0 };
}

const entryFile = (pgid: number, host?: string) => join(registryDir(), `${host ? `${host.replace(/[^\w.-]/g, '_')}@` : ''}${pgid}.json`);

export function register(entry: RegistryEntry): void {
  writeFileSync(entryFile(entry.pgid, entry.host?.name), JSON.stringify(entry));
}

/** Forgets a group; `host` for one started on another host. */
export function unregister(pgid: number, host?: string): void {
  rmSync(entryFile(pgid, host), { force: true });
}

export function listEntries(): RegistryEntry[] {
  const dir = registryDir();
  const out: RegistryEntry[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as RegistryEntry);
    } catch {
      rmSync(join(dir, f), { force: true });
    }
  }
  return out;
}

/** Entries whose owner (the runner that started them) is gone; `owner` limits it to one runner. */
export function orphanEntries(owner?: number): RegistryEntry[] {
  return listEntries().filter((e) => (owner === undefined || e.owner.pid === owner) && !isAlive(e.owner.pid, e.owner.startTime));
}

/** Writes a reaped group to the log a later run reports from. */
export function logReaped(r: ReapedGroup): void {
  appendFileSync(reapedLog(), `${JSON.stringify(r)}\n`);
}

/**
 * Kills the local groups whose owner (the runner that started them) is gone, by pid and with
 * start times checked so a reused pid is never hit. `owner` limits it to one runner.
 */
export function reapOrphans(by: ReapedGroup['by'], owner?: number): ReapedGroup[] {
  // Snapshot every orphaned group before killing any: killing a source QEMU makes its
  // destination exit on its own (failed load), and it must still be reported as left behind.
  const orphans = orphanEntries(owner)
    .filter((e) => !e.host)
    .map((entry) => ({ entry, members: groupMembers(entry.pgid, entry.startTime) }));
  for (const { members } of orphans)
    for (const m of members) {
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  const reaped: ReapedGroup[] = [];
  for (const { entry, members } of orphans) {
    unregister(entry.pgid);
    if (!members.length) continue;
    const r: ReapedGroup = { entry, killed: members.map((m) => m.pid), by, at: new Date().toISOString() };
    logReaped(r);
    reaped.push(r);
  }
  return reaped;
}

/** Reaped groups not yet shown to a user (the watchdog's work included); marks them shown. */
export function takeUnreported(): ReapedGroup[] {
  const log = reapedLog();
  if (!existsSync(log)) return [];
  const shown = `${log}.${Date.now()}.shown`;
  renameSync(log, shown);
  const lines = readFileSync(shown, 'utf8').split('\n').filter(Boolean);
  rmSync(shown, { force: true });
  return lines.map((l) => JSON.parse(l) as ReapedGroup);
}

export function formatReaped(r: ReapedGroup): string {
  return `${r.by} killed ${r.entry.name}${r.entry.host ? ` on host ${r.entry.host.name}` : ''} (pgid ${r.entry.pgid}, pids ${r.killed.join(',')}) left by runner pid ${r.entry.owner.pid} started ${r.entry.createdAt}: ${r.entry.argv.slice(0, 3).join(' ')} …`;
}
