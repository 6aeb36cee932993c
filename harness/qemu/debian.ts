import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { cacheDir } from '../util/paths.js';

/** The Debian suite each fetchable QEMU version comes from. 8.x and 9.x are in no suite. */
export const FETCHABLE: Record<string, string> = { '5.2': 'bullseye', '7.2': 'bookworm', '10.0': 'trixie', '11.1': 'sid' };

/**
 * apt on a private sources list with its own state under the cache: another suite's
 * binaries or sources are read without touching the host's apt. apt still verifies each
 * suite's signed index (the host's Debian keyring) and each download's hash against it.
 */
export const MIRROR = 'http://deb.debian.org/debian';
const SECURITY = 'http://deb.debian.org/debian-security';
/** Suites with security updates of their own (sid has none). */
const HAS_SECURITY = new Set(['bullseye', 'bookworm', 'trixie']);
const DAY_MS = 86_400_000;

export type AptKind = 'deb' | 'deb-src';

/** apt-get/apt-cache options for one suite's private state. */
export function aptOptions(suite: string, kind: AptKind): string[] {
  const root = join(cacheDir(), 'apt', kind === 'deb' ? suite : `${suite}-src`);
  for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(root, d), { recursive: true });
  const list = join(root, 'sources.list');
  const lines = [`${kind} ${MIRROR} ${suite} main`];
  if (HAS_SECURITY.has(suite)) lines.push(`${kind} ${SECURITY} ${suite}-security main`);
  if (!existsSync(list)) writeAtomic(list, `${lines.join('\n')}\n`);
  return [
    '-o', `Dir::Etc::SourceList=${list}`, '-o', 'Dir::Etc::SourceParts=/nonexistent',
    '-o', `Dir::State::Lists=${join(root, 'lists')}`, '-o', `Dir::Cache=${join(root, 'cache')}`,
    // Not the host's installed packages: dependencies resolve within the suite alone.
    '-o', 'Dir::State::status=/dev/null', '-o', 'Debug::NoLocking=1',
    // apt drops to _apt to download, which cannot write into root's cache.
    ...(process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []),
  ];
}

/** `apt-get update` for the suite's private state, at most once a day. */
export async function aptUpdate(suite: string, kind: AptKind, what: string): Promise<string[]> {
  const opts = aptOptions(suite, kind);
  const stamp = join(cacheDir(), 'apt', kind === 'deb' ? suite : `${suite}-src`, 'updated');
  if (existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < DAY_MS) return opts;
  progress(`${what}: reading the ${suite} ${kind === 'deb' ? 'package' : 'source'} index`);
  const up = await execa('apt-get', [...opts, '-q', 'update'], { reject: false, all: true });
  // apt exits 0 even when one list failed; its W:/E: lines say which.
  if (up.exitCode !== 0 || /^E: /m.test(up.all ?? ''))
    throw new MigtestError(`apt-get update for Debian ${suite} failed (is ${MIRROR} reachable?):\n${up.all}`);
  writeAtomic(stamp, '');
  return opts;
}

/** Cache writes go tmp + rename: a concurrent run sees the whole file or none. */
export function writeAtomic(file: string, text: string, mode?: number): void {
  const tmp = `${file}.${process.pid}`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
  renameSync(tmp, file);
}
