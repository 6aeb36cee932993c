import { DEADLINES } from '../util/deadlines.js';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import type { Host } from '../host/host.js';
import { MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { parseQemuVersion, type QemuBinary } from './catalog.js';

const STAMP = '.migtest-tree';

/** The fetched tree a binary belongs to: <cache>/qemu/<label>, whose bin/ holds its launcher. */
export const fetchedTree = (bin: QemuBinary): string => dirname(dirname(bin.path));

/** What a tree is, as a hash of every entry's path, size and link target: cheap, and changes with any re-fetch. */
export function treeStamp(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (p === join(root, STAMP)) continue;
      const st = lstatSync(p);
      const rel = relative(root, p);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) h.update(`l ${rel} ${readlinkSync(p)}\n`);
      else h.update(`f ${rel} ${st.size} ${Math.floor(st.mtimeMs)}\n`);
    }
  };
  walk(root);
  return h.digest('hex');
}

const placed = new Map<string, Promise<void>>();

/**
 * A fetched QEMU on another host: its tree copied to the same path there (its launcher and
 * library links are absolute paths into it), once per tree and host, and only when the
 * copy's stamp differs. A system or build QEMU is not copied: its path must exist there.
 */
export function placeQemu(host: Host, bin: QemuBinary): Promise<void> {
  if (bin.source !== 'cache') return Promise.resolve();
  const root = fetchedTree(bin);
  const key = `${host.name}\u0000${root}`;
  let p = placed.get(key);
  if (!p) {
    p = copyTree(host, root, bin.version);
    placed.set(key, p);
    p.catch(() => placed.delete(key));
  }
  return p;
}

async function copyTree(host: Host, root: string, version: string): Promise<void> {
  const stamp = treeStamp(root);
  const have = await host.exec(['cat', '--', join(root, STAMP)]);
  if (have.code === 0 && have.stdout.trim() === stamp) return;
  const t0 = Date.now();
  const tar = join(tmpdir(), `migtest-qemu-${basename(root)}-${process.pid}.tar`);
  const remoteTar = join(dirname(root), `.${basename(root)}.tar.part-${process.pid}`);
  try {
    await execa('tar', ['-C', dirname(root), '-cf', tar, basename(root)]);
    const run = async (argv: string[]) => {
      const r = await host.exec(argv);
      if (r.code !== 0) throw new MigtestError(`host ${host.name}: ${argv.join(' ')}: ${r.stderr.trim()} (a fetched QEMU is copied to the same path there: ${root})`);
    };
    await run(['mkdir', '-p', '--', dirname(root)]);
    await run(['rm', '-rf', '--', root]);
    await host.putFile(tar, remoteTar);
    await run(['tar', '-C', dirname(root), '-xf', remoteTar]);
    await run(['rm', '-f', '--', remoteTar]);
    await host.writeFile(join(root, STAMP), `${stamp}\n`, 0o644);
    progress(`qemu: copied QEMU ${version} (${root}) to host ${host.name} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  } finally {
    rmSync(tar, { force: true });
  }
}

const checked = new Map<string, Promise<{ version?: string; why: string }>>();

/**
 * What `<path> --version` says on a host: its version, or why there is none. Asked once per
 * host and path: a system QEMU at the same path on another host may be another version, and
 * the run would label that side wrongly.
 */
export function versionOn(host: Host, path: string): Promise<{ version?: string; why: string }> {
  const key = `${host.name}\u0000${path}`;
  let p = checked.get(key);
  if (!p) {
    p = host.exec([path, '--version'], { timeoutMs: DEADLINES.hostCommand }).then((r) => {
      const version = r.code === 0 ? parseQemuVersion(r.stdout) : undefined;
      const said = r.stderr.trim().split('\n')[0];
      const why = version ? 'ok' : r.code === 0 ? 'no version in its --version output' : `${r.code === undefined ? 'did not run' : `exit ${r.code}`}${said ? `: ${said}` : ''}`;
      return { version, why };
    });
    checked.set(key, p);
    // Only a version found is remembered: a missing binary may be installed before the next VM.
    p.then((v) => void (v.version || checked.delete(key)), () => checked.delete(key));
  }
  return p;
}
