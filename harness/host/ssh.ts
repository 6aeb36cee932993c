import { createHash, createHmac } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { scale } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { sleep } from '../util/time.js';
import type { ExecResult, GroupSockets, Host, HostProcess, HostSpawnOptions, LinkState } from './host.js';
import { progress } from '../util/log.js';
import { GROUP_SOCKETS_SCRIPT, parseGroupSockets } from './sockets.js';
import type { ExitInfo, StopOptions } from './process.js';
import { escalateStop } from './process.js';
import { parseStat } from './procfs.js';
import { register, selfIdentity, unregister } from './registry.js';

/** How to reach a host over ssh, and how its key is known. */
export interface SshTarget {
  /** The host's name in the hosts file ("src", "dst"). */
  name: string;
  address: string;
  port?: number;
  user?: string;
  /** Private key file for public-key authentication. */
  identityFile: string;
  /** The host's public key, pinned ("ssh-ed25519 AAAA..."); or: */
  hostKey?: string;
  /** A known_hosts file to look the host up in (hashed entries too). */
  knownHosts?: string;
  /** Keepalive: a probe every intervalMs; after countMax unanswered the link counts as lost. */
  keepalive?: { intervalMs: number; countMax: number };
  /** Channels at once on the connection (sshd's MaxSessions, 10 by default). */
  maxSessions?: number;
  /** The hosts file this target came from: the reaper reconnects with it. */
  hostsFile?: string;
  /** After the control link was lost, how long an operation waits for it, reconnecting, before it fails (0: at once). Default 60 s. */
  relinkMs?: number;
}

export class HostKeyError extends MigtestError {}
export class ControlLinkError extends MigtestError {}

const fingerprint = (blob: Buffer) => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/** The key blobs known for `host[:port]` in a known_hosts text (plain and hashed names). */
export function knownHostKeys(text: string, address: string, port = 22): Buffer[] {
  const name = port === 22 ? address : `[${address}]:${port}`;
  const out: Buffer[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 3 || words[0]!.startsWith('#') || words[0]!.startsWith('@')) continue;
    const [hosts, , b64] = words as [string, string, string];
    const matches = hosts.startsWith('|1|')
      ? (() => {
          const [, , salt, hash] = hosts.split('|');
          return createHmac('sha1', Buffer.from(salt!, 'base64')).update(name).digest('base64') === hash;
        })()
      : hosts.split(',').includes(name);
    if (matches) out.push(Buffer.from(b64, 'base64'));
  }
  return out;
}

/** A counting semaphore: sshd refuses channels beyond its MaxSessions. */
class Sessions {
  private free: number;
  private waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/**
 * A host reached over ssh (ssh2). Its key must match the pinned key or known_hosts; a
 * mismatch is refused. Keepalives notice a silent partition of the control link: every
 * pending and later operation then fails with ControlLinkError until reconnect(). Closing a
 * channel does not kill a remote process, so processes are killed by their recorded pid
 * and group, after checking their start time.
 */
export class SshHost implements Host {
  readonly kind = 'ssh' as const;
  private lost: Error | undefined;
  private lostAt: number | undefined;
  private relinking: Promise<void> | undefined;
  private closedByUs = false;
  /** Connections made so far after the first: a stream opened before a reconnect is a dead one. */
  generation = 0;
  /** Each loss of the control link and how long it took to come back. */
  readonly outages: Array<{ why: string; lostAt: number; backAt?: number }> = [];
  /** What sockets opened through this host need to reopen after a loss (LinkState). */
  readonly link: LinkState = {
    generation: () => this.generation,
    down: () => !!this.lost,
    restore: () => this.restore(),
  };
  private sftpChannel: Promise<SFTPWrapper> | undefined;
  private readonly sessions: Sessions;

  private constructor(
    readonly target: SshTarget,
    private client: Client,
  ) {
    this.sessions = new Sessions(target.maxSessions ?? 8);
    this.watch(client);
  }

  get name(): string {
    return this.target.name;
  }

  /** Why the control link is down, if it is. */
  get linkLost(): Error | undefined {
    return this.lost;
  }

  static async connect(target: SshTarget, timeoutMs = 15_000): Promise<SshHost> {
    return new SshHost(target, await open(target, timeoutMs));
  }

  /** A new connection after the control link was lost (remote processes ran on). */
  async reconnect(timeoutMs = 15_000): Promise<void> {
    this.client.end();
    this.client = await open(this.target, timeoutMs);
    this.lost = undefined;
    this.sftpChannel = undefined;
    this.generation++;
    const o = this.outages.at(-1);
    if (o && o.backAt === undefined) {
      o.backAt = Date.now();
      progress(`host ${this.name}: control link back after ${o.backAt - o.lostAt} ms`);
    }
    this.watch(this.client);
  }

  /**
   * Waits for a lost control link to come back, reconnecting, for up to relinkMs: what runs
   * on the host runs on meanwhile (the migration crosses its own link). Concurrent callers
   * share one attempt; fails with ControlLinkError naming the loss and the wait.
   */
  async restore(): Promise<void> {
    if (!this.lost) return;
    const lost = this.lost;
    const ms = this.closedByUs ? 0 : (this.target.relinkMs ?? 60_000);
    if (ms <= 0) throw lost;
    this.relinking ??= (async () => {
      const end = Date.now() + scale(ms);
      for (;;) {
        try {
          return await this.reconnect(5000);
        } catch (e) {
          if (this.closedByUs || Date.now() >= end)
            throw new ControlLinkError(`${lost.message}; not back within ${ms} ms (last attempt: ${(e as Error).message})`, { host: this.name, lostAt: this.lostAt });
          await sleep(500);
        }
      }
    })().finally(() => (this.relinking = undefined));
    await this.relinking;
  }

  private watch(c: Client): void {
    const down = (why: string) => {
      if (c !== this.client || this.lost) return;
      this.lost = new ControlLinkError(`control link to host ${this.name} (${this.target.address}) lost: ${why}`, { host: this.name });
      this.lostAt = Date.now();
      if (!this.closedByUs) {
        this.outages.push({ why, lostAt: this.lostAt });
        progress(`host ${this.name}: control link lost (${why}); what runs there runs on`);
      }
    };
    c.on('error', (e: Error) => down(e.message));
    c.on('close', () => down('connection closed'));
  }

  /** The link, restored first if it was lost (within relinkMs). */
  private async ready(): Promise<void> {
    if (this.lost) await this.restore();
  }

  /**
   * Runs a command on a channel of its own. `wire` attaches the listeners inside ssh2's
   * callback, synchronously: a fast command's output, exit status and close can arrive in
   * the same read as the channel's confirmation, before any awaiting caller would listen.
   */
  private async channel(command: string, wire: (ch: ClientChannel) => void): Promise<ClientChannel> {
    await this.ready();
    return new Promise((resolve, reject) =>
      this.client.exec(command, (err, ch) => {
        if (err) return reject(this.lost ?? err);
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
              if (code === undefined) reject(this.lost ?? new ControlLinkError(`host ${this.name}: ${argv.join(' ')}: the channel closed without an exit status`, { host: this.name }));
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
          if (!proc) reject(this.lost ?? new MigtestError(`host ${this.name}: could not start ${opts.name}: ${argv[0]}`));
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
    const r = await this.exec(['cat', `/proc/${pid}/stat`], { timeoutMs: 10_000 });
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
    await this.ready();
    this.sftpChannel ??= new Promise((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
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
    await this.ready();
    return new Promise((resolve, reject) =>
      this.client.openssh_forwardOutStreamLocal(path, (err, stream) => (err ? reject(new MigtestError(`host ${this.name}: connect ${path}: ${err.message}`)) : resolve(stream))),
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
            if (!stopped && this.lost) void this.restore().then(() => (stopped ? undefined : start()), () => undefined);
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
        await Promise.race([closed, sleep(2000)]);
        await new Promise<void>((r) => out.end(r));
      },
    };
  }

  async groupSockets(pgid: number): Promise<GroupSockets> {
    const r = await this.exec(['sh', '-c', GROUP_SOCKETS_SCRIPT, 'sh', String(pgid)], { timeoutMs: 15_000 });
    return parseGroupSockets(r.stdout);
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    this.client.end();
  }
}

// sh's exit status for a process killed by signal n is 128 + n: both ways here.
const SIGNALS = Object.fromEntries(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const shellStatus = (signal: string): number => 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0);

/** `wait`'s status as sh reports it -> how the process ended, as a local exit says it. */
export function shellExit(status: number): ExitInfo {
  const sig = status > 128 ? SIGNALS[status - 128] : undefined;
  return sig ? { code: undefined, signal: sig } : { code: status, signal: undefined };
}

/** A process group on an ssh host. */
class SshProcess implements HostProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private resolveExit!: (e: ExitInfo) => void;
  private waiterGone = false;

  constructor(
    private readonly host: SshHost,
    readonly name: string,
    readonly pid: number,
    readonly startTime: number,
    readonly argv: readonly string[],
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  signal(sig: 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    return this.host.killGroup(this.pid, this.startTime, sig.slice(3) as 'TERM').then(() => undefined, () => undefined);
  }

  ended(e: ExitInfo): void {
    if (this.exitInfo) return;
    this.exitInfo = e;
    unregister(this.pid, this.host.name);
    this.resolveExit(e);
  }

  /** The waiter's channel closed: the process may still run (a lost link) or may have ended. */
  channelClosed(): void {
    this.waiterGone = true;
  }

  /** Alive on the host with the same start time (a reused pid is not ours). */
  async alive(): Promise<boolean> {
    if (!this.running) return false;
    const st = await this.host.procStat(this.pid);
    const alive = !!st && st.startTime === this.startTime && st.state !== 'Z';
    if (!alive && this.waiterGone) this.ended({ code: undefined, signal: 'unknown (ended while the control link was down)' });
    return alive;
  }

  private async kill(sig: 'TERM' | 'KILL'): Promise<void> {
    await this.host.killGroup(this.pid, this.startTime, sig).catch(() => undefined);
  }

  async waitExit(ms: number): Promise<boolean> {
    const until = Date.now() + scale(ms);
    while (Date.now() < until) {
      if (!this.running) return true;
      if (this.waiterGone && !(await this.alive())) return true;
      await Promise.race([this.exited, sleep(200)]);
    }
    return !this.running;
  }

  stop(opts: StopOptions = {}): Promise<ExitInfo> {
    return escalateStop(this, (sig) => this.kill(sig === 'SIGTERM' ? 'TERM' : 'KILL'), opts, `${this.name} (pid ${this.pid} on host ${this.host.name})`);
  }
}

function open(t: SshTarget, timeoutMs: number): Promise<Client> {
  const known = t.hostKey
    ? [Buffer.from(t.hostKey.trim().split(/\s+/)[1] ?? '', 'base64')]
    : t.knownHosts
      ? knownHostKeys(readFileSync(t.knownHosts, 'utf8'), t.address, t.port)
      : [];
  if (!known.length)
    throw new HostKeyError(`host ${t.name}: no key to verify ${t.address} against`, { field: 'hostKey or knownHosts', allowed: 'the host key pinned, or a known_hosts file that lists it' });
  let offered: Buffer | undefined;
  const c = new Client();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.end();
      reject(new ControlLinkError(`host ${t.name}: no ssh connection to ${t.address}:${t.port ?? 22} within ${timeoutMs} ms`));
    }, scale(timeoutMs));
    c.once('ready', () => {
      clearTimeout(timer);
      resolve(c);
    });
    c.once('error', (e: Error) => {
      clearTimeout(timer);
      reject(
        offered && !known.some((k) => k.equals(offered!))
          ? new HostKeyError(`host ${t.name}: ${t.address} offered host key ${fingerprint(offered)}, not the one on record (${known.map(fingerprint).join(', ')}): refused`)
          : new ControlLinkError(`host ${t.name}: ssh to ${t.address}:${t.port ?? 22}: ${e.message}`),
      );
    });
    c.connect({
      host: t.address,
      port: t.port ?? 22,
      username: t.user ?? 'root',
      privateKey: readFileSync(t.identityFile),
      hostVerifier: (key: Buffer) => {
        offered = key;
        return known.some((k) => k.equals(key));
      },
      keepaliveInterval: t.keepalive?.intervalMs ?? 2000,
      keepaliveCountMax: t.keepalive?.countMax ?? 3,
      readyTimeout: timeoutMs,
    });
  });
}
