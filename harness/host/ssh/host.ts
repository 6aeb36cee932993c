import { createWriteStream } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { DEADLINES, scale, type Wait } from '../../util/deadlines.js';
import { MigtestError } from '../../util/errors.js';
import { shellQuote } from '../../util/shell.js';
import { sleep } from '../../util/time.js';
import type { ExecResult, GroupSockets, Host, HostProcess, HostSpawnOptions } from '../host.js';
import { parseStat } from '../procfs.js';
import { register, selfIdentity } from '../registry.js';
import { GROUP_SOCKETS_SCRIPT, parseGroupSockets } from '../sockets.js';
import { shellExit, shellStatus, SshProcess } from './process.js';
import { Sessions } from './sessions.js';
import { ControlLink, type Outage } from './link.js';
import { ControlLinkError, type SshTarget } from './target.js';

export { ControlLinkError, HostKeyError, knownHostKeys, type SshTarget } from './target.js';

/**
 * A host reached over ssh (ssh2). Its key must match the pinned key or known_hosts; a
 * mismatch is refused. Keepalives notice a silent partition of the control link: every
 * pending and later operation then fails with ControlLinkError until reconnect(). Closing a
 * channel does not kill a remote process, so processes are killed by their recorded pid
 * and group, after checking their start time.
 */
export class SshHost implements Host {
  readonly kind = 'ssh' as const;
  private sftpChannel: Promise<SFTPWrapper> | undefined;
  private readonly sessions: Sessions;

  private constructor(
    readonly target: SshTarget,
    /** The connection and its health: what sockets opened through this host reopen after a loss with. */
    readonly link: ControlLink,
  ) {
    this.sessions = new Sessions(target.maxSessions ?? 8);
    link.onReconnect = () => (this.sftpChannel = undefined);
  }

  get name(): string {
    return this.target.name;
  }

  /** Why the control link is down, if it is. */
  get linkLost(): Error | undefined {
    return this.link.lostError;
  }

  /** Each loss of the control link and how long it took to come back. */
  get outages(): readonly Outage[] {
    return this.link.outages;
  }

  static async connect(target: SshTarget, opts: Wait = {}): Promise<SshHost> {
    return new SshHost(target, await ControlLink.open(target, opts));
  }

  /** A new connection after the control link was lost (remote processes ran on). */
  reconnect(opts: Wait = {}): Promise<void> {
    return this.link.reconnect(opts);
  }

  /**
   * Runs a command on a channel of its own. `wire` attaches the listeners inside ssh2's
   * callback, synchronously: a fast command's output, exit status and close can arrive in
   * the same read as the channel's confirmation, before any awaiting caller would listen.
   */
  private async channel(command: string, wire: (ch: ClientChannel) => void): Promise<ClientChannel> {
    const client = await this.link.client();
    return new Promise((resolve, reject) =>
      client.exec(command, (err, ch) => {
        if (err) return reject(this.linkLost ?? err);
        wire(ch);
        resolve(ch);
      }),
    );
  }

  async exec(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.sessions.run(
      () =>
        new Promise<ExecResult>((resolve, reject) => {
          let stdout = '';
          let stderr = '';
          let code: number | undefined;
          let timer: NodeJS.Timeout | undefined;
          this.channel(argv.map(shellQuote).join(' '), (ch) => {
            if (opts.timeoutMs)
              timer = setTimeout(() => {
                ch.close();
                reject(new MigtestError(`host ${this.name}: ${argv.join(' ')}: no answer within ${opts.timeoutMs} ms`));
              }, scale(opts.timeoutMs));
            ch.on('data', (d: Buffer) => (stdout += d.toString()));
            ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
            // A command killed by a signal has no code: 128 + n, as sh would say it.
            ch.on('exit', (c: number | null, sig?: string) => (code = c ?? (sig ? shellStatus(`SIG${sig}`) : undefined)));
            ch.on('close', () => {
              clearTimeout(timer);
              if (code === undefined) reject(this.linkLost ?? new ControlLinkError(`host ${this.name}: ${argv.join(' ')}: the channel closed without an exit status`, { host: this.name }));
              else resolve({ code, stdout, stderr });
            });
          }).catch(reject);
        }),
    );
  }

  /**
   * Starts argv in its own session (setsid) on the host, output appended to files there.
   * A small sh waits for it and reports its exit on the channel; if the channel goes, the
   * process runs on and its state is asked for by pid and start time.
   */
  async spawn(argv: readonly string[], opts: HostSpawnOptions): Promise<HostProcess> {
    const script =
      'out=$1; err=$2; shift 2; setsid "$@" </dev/null >>"$out" 2>>"$err" & pid=$!; ' +
      'echo "stat $(cat /proc/$pid/stat)"; wait $pid; echo "exit $?"';
    const words = ['sh', '-c', script, 'sh', opts.stdoutFile ?? '/dev/null', opts.stderrFile ?? '/dev/null', ...argv];
    // The waiter holds a channel for the process's life: it is not counted against the
    // sessions exec and file operations share, or long-running QEMUs would starve them.
    return new Promise<HostProcess>((resolve, reject) => {
      let buf = '';
      let proc: SshProcess | undefined;
      this.channel(words.map(shellQuote).join(' '), (ch) => {
        ch.on('data', (d: Buffer) => {
          buf += d.toString();
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.startsWith('stat ') && !proc) {
              const pid = Number(/^stat (\d+)/.exec(line)?.[1]);
              const st = parseStat(pid, line.slice(5));
              proc = new SshProcess(this, opts.name, pid, st.startTime, argv);
              register({ pgid: pid, startTime: st.startTime, name: opts.name, argv: [...argv], owner: selfIdentity(), createdAt: new Date().toISOString(), host: this.registryHost() });
              resolve(proc);
            } else if (line.startsWith('exit ')) proc?.ended(shellExit(Number(line.slice(5))));
          }
        });
        ch.on('close', () => {
          if (!proc) reject(this.linkLost ?? new MigtestError(`host ${this.name}: could not start ${opts.name}: ${argv[0]}`));
          else proc.channelClosed();
        });
      }).catch(reject);
    });
  }

  /** What the registry keeps so a later run can reconnect and kill what this one left. */
  registryHost(): { name: string; hostsFile?: string } {
    return { name: this.name, hostsFile: this.target.hostsFile };
  }

  /** pid's stat on the host, or undefined when it is gone. */
  async procStat(pid: number): Promise<ReturnType<typeof parseStat> | undefined> {
    const r = await this.exec(['cat', `/proc/${pid}/stat`], { timeoutMs: DEADLINES.hostCommand });
    return r.code === 0 ? parseStat(pid, r.stdout.trim()) : undefined;
  }

  /**
   * Kills a group this harness recorded (by a lost connection's process, or the reaper's):
   * only if its leader is still the process that started at `startTime`. Returns whether it was.
   */
  async killGroup(pid: number, startTime: number, sig: 'TERM' | 'KILL' | 'STOP' | 'CONT' = 'KILL'): Promise<boolean> {
    const st = await this.procStat(pid);
    if (!st || st.startTime !== startTime || st.state === 'Z') return false;
    await this.exec(['kill', `-${sig}`, '--', `-${pid}`]);
    return true;
  }

  private async sftp(): Promise<SFTPWrapper> {
    const client = await this.link.client();
    this.sftpChannel ??= new Promise((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    return this.sftpChannel;
  }

  async readFile(path: string): Promise<Buffer> {
    const s = await this.sftp();
    return new Promise((resolve, reject) => s.readFile(path, (err: Error | null | undefined, data: Buffer) => (err ? reject(new MigtestError(`host ${this.name}: read ${path}: ${err.message}`)) : resolve(data))));
  }

  async writeFile(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
    const s = await this.sftp();
    await new Promise<void>((resolve, reject) => s.writeFile(path, data, { mode }, (err) => (err ? reject(new MigtestError(`host ${this.name}: write ${path}: ${err.message}`)) : resolve())));
  }

  async putFile(localPath: string, path: string): Promise<void> {
    const s = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      s.fastPut(localPath, path, { concurrency: 16, chunkSize: 1 << 17 }, (err) => (err ? reject(new MigtestError(`host ${this.name}: copy ${localPath} to ${path}: ${err.message}`)) : resolve())),
    );
  }

  async privateDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
    const r = await this.exec(['mktemp', '-d', `/tmp/migtest-${prefix}-XXXXXX`]);
    const path = r.stdout.trim();
    if (r.code !== 0 || !path) throw new MigtestError(`host ${this.name}: mktemp failed: ${r.stderr}`);
    return { path, cleanup: async () => void (await this.exec(['rm', '-rf', '--', path]).catch(() => undefined)) };
  }

  /** The socket through sshd's streamlocal forwarding (direct-streamlocal@openssh.com). */
  async connectUnix(path: string): Promise<Duplex> {
    const client = await this.link.client();
    return new Promise((resolve, reject) =>
      client.openssh_forwardOutStreamLocal(path, (err, stream) => (err ? reject(new MigtestError(`host ${this.name}: connect ${path}: ${err.message}`)) : resolve(stream))),
    );
  }

  /**
   * `tail -F` on a channel of its own, appended locally: the artifacts stay current while the
   * run goes on. A lost control link ends the channel; once it is back, tail starts again
   * from the bytes already here, so nothing is doubled or skipped.
   */
  async follow(path: string, localFile: string): Promise<{ stop(): Promise<void> }> {
    const out = createWriteStream(localFile, { flags: 'a' });
    // Bytes of the remote file received so far (the local file may hold more before them).
    let written = 0;
    let stopped = false;
    let ch: ClientChannel | undefined;
    let closed = Promise.resolve();
    const start = async (): Promise<void> => {
      await this.channel(['tail', '-c', `+${written + 1}`, '-F', path].map(shellQuote).join(' '), (c) => {
        ch = c;
        c.on('data', (d: Buffer) => void ((written += d.length), out.write(d)));
        c.stderr.on('data', () => {}); // "file truncated", "has appeared": tail's own notes
        closed = new Promise<void>((r) =>
          c.on('close', () => {
            r();
            // Gone with the link: follow again once it is back (or give up with it).
            if (!stopped && this.linkLost) void this.link.restore().then(() => (stopped ? undefined : start()), () => undefined);
          }),
        );
      });
    };
    await start();
    return {
      stop: async () => {
        // A last look: what was written just before the stop is in the file by now.
        await sleep(100);
        stopped = true;
        ch?.close();
        await Promise.race([closed, sleep(scale(DEADLINES.teardownQuick))]);
        await new Promise<void>((r) => out.end(r));
      },
    };
  }

  async groupSockets(pgid: number): Promise<GroupSockets> {
    const r = await this.exec(['sh', '-c', GROUP_SOCKETS_SCRIPT, 'sh', String(pgid)], { timeoutMs: DEADLINES.hostCommand });
    return parseGroupSockets(r.stdout);
  }

  async close(): Promise<void> {
    this.link.close();
  }
}

