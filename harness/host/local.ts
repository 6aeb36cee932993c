import { execa } from 'execa';
import { copyFile, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { ExecResult, GroupSockets, Host, HostProcess, HostSpawnOptions } from './host.js';
import { GroupProcess } from './process.js';
import { groupMembers } from './procfs.js';
import { tcpSocketsOf } from './sockets.js';

/**
 * This machine as a Host: the same interface an ssh host gives, so a helper (a bridge, a
 * partition) is written once and runs on whichever side it must.
 */
export class LocalHost implements Host {
  readonly name = 'local';
  readonly kind = 'local' as const;

  async exec(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: opts.timeoutMs });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  async spawn(argv: readonly string[], opts: HostSpawnOptions): Promise<HostProcess> {
    return GroupProcess.spawn(argv[0]!, argv.slice(1), opts);
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  writeFile(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
    return writeFile(path, data, { mode });
  }

  putFile(localPath: string, path: string): Promise<void> {
    return copyFile(localPath, path);
  }

  async privateDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
    const path = await mkdtemp(join(tmpdir(), `migtest-${prefix}-`));
    await chmod(path, 0o700);
    return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
  }

  connectUnix(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  /** The file is on this machine already: the caller names the local file itself. */
  async follow(): Promise<{ stop(): Promise<void> }> {
    return { stop: async () => undefined };
  }

  async groupSockets(pgid: number): Promise<GroupSockets> {
    const members = groupMembers(pgid).map((m) => m.pid);
    const seen = new Set<number>();
    const sockets = members.flatMap((pid) => tcpSocketsOf(pid)).filter((s) => !seen.has(s.inode) && seen.add(s.inode));
    return { members, sockets };
  }

  async close(): Promise<void> {}
}

/** The one LocalHost. */
export const localHost = new LocalHost();
