import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { progress } from '../util/log.js';
import { cacheDir } from '../util/paths.js';
import { versionText, type QemuBinary } from './catalog.js';
import { aptUpdate } from './debian.js';

/** Where QEMU's own analyze-migration.py for a binary was found, or why it was not. */
export type ScriptLookup = { path: string; from: string } | { missing: string };

const SCRIPT = 'scripts/analyze-migration.py';
/** Suites searched for the source package, in order; their Sources lists are cached a day. */
const SUITES = ['bookworm-backports', 'bookworm', 'trixie', 'bullseye', 'sid'];

/** "1:7.2+dfsg-7+deb12u18+b3" from `--version`: Debian's package version of the binary. */
export function debianPackageVersion(versionText: string): string | undefined {
  return /\(Debian ([^)\s]+)\)/.exec(versionText)?.[1];
}

/** The source package version a binary package came from: a binNMU (+bN) rebuilds the same source. */
export function debianSourceVersion(packageVersion: string): string {
  return packageVersion.replace(/\+b\d+$/, '');
}

/**
 * QEMU's scripts/analyze-migration.py for the binary's own version: beside a source build
 * (build/ inside the tree), or from Debian's source package of the same version, fetched
 * once into the cache. Never vendored: the stream format moves with the version.
 */
export async function analyzeMigrationScript(bin: QemuBinary): Promise<ScriptLookup> {
  const inTree = join(dirname(bin.path), '..', SCRIPT);
  if (existsSync(inTree)) return { path: inTree, from: 'the source tree the binary was built in' };
  const pkg = debianPackageVersion((await versionText(bin.path)).text);
  if (!pkg) return { missing: `${bin.path} is not a Debian build and has no ${SCRIPT} beside it` };
  const version = debianSourceVersion(pkg);
  const cached = join(cacheDir(), 'tools', `analyze-migration-${version.replace(/[^\w.+~-]/g, '_')}.py`);
  if (existsSync(cached)) return { path: cached, from: `Debian source package qemu ${version} (cached)` };
  try {
    await fetchFromSourcePackage(version, cached);
    return { path: cached, from: `Debian source package qemu ${version}` };
  } catch (e) {
    return { missing: `${SCRIPT} for qemu ${version} could not be had from Debian's source package: ${(e as Error).message.split('\n')[0]}` };
  }
}

/**
 * apt verifies the suite's signed index; `source --print-uris` then names the orig tarball
 * with its SHA256, which this checks on the download before it extracts one file.
 */
async function fetchFromSourcePackage(version: string, dest: string): Promise<void> {
  let uri: { url: string; name: string; sha256: string } | undefined;
  for (const suite of SUITES) {
    const opts = await aptUpdate(suite, 'deb-src', 'analyze-migration.py');
    const p = await execa('apt-get', [...opts, 'source', '--print-uris', `qemu=${version}`], { reject: false, all: true });
    const line = p.exitCode === 0 ? p.stdout.split('\n').find((l) => /\.orig\.tar\.\w+ /.test(l)) : undefined;
    const m = line && /^'([^']+)' (\S+) \d+ SHA256:([0-9a-f]{64})$/.exec(line.trim());
    if (m) {
      uri = { url: m[1]!, name: m[2]!, sha256: m[3]! };
      break;
    }
  }
  if (!uri) throw new Error(`no suite of ${SUITES.join(', ')} has source package qemu=${version}`);
  const work = `${dest}.fetch-${process.pid}`;
  mkdirSync(work, { recursive: true });
  try {
    const tarball = join(work, uri.name);
    progress(`analyze-migration.py: downloading ${uri.name}`);
    const res = await fetch(uri.url);
    if (!res.ok || !res.body) throw new Error(`GET ${uri.url}: HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(tarball));
    const got = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    if (got !== uri.sha256) throw new Error(`${uri.name}: SHA256 ${got}, the signed index says ${uri.sha256}`);
    await execa('tar', ['-xf', tarball, '-C', work, '--no-same-owner', '--wildcards', `*/${SCRIPT}`]);
    // The tarball's top folder (qemu-10.0.2, qemu-7.2) is not spelled like its name.
    const top = readdirSync(work, { withFileTypes: true }).find((d) => d.isDirectory() && existsSync(join(work, d.name, SCRIPT)));
    if (!top) throw new Error(`${uri.name} has no ${SCRIPT}`);
    renameSync(join(work, top.name, SCRIPT), dest);
    progress(`analyze-migration.py: qemu ${version} in ${dest}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
