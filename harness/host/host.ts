import type { Duplex } from 'node:stream';
import type { Wait } from '../util/deadlines.js';
import type { ExitInfo, StopOptions } from './process.js';
import { listeningOf, type TcpSocket } from './sockets.js';

/** A command's result, wherever it ran. */
export interface ExecResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** A process group on a host: killed by its recorded pid and group, never by name. */
export interface HostProcess {
  readonly name: string;
  readonly pid: number;
  readonly startTime: number;
  readonly argv: readonly string[];
  /** Resolves when the harness learns how it ended. */
  readonly exited: Promise<ExitInfo>;
  readonly running: boolean;
  /** How it ended, once known. */
  readonly exit: ExitInfo | undefined;
  /** Signals the whole group (on its host); another host's settles when the signal was sent. */
  signal(sig: 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): void | Promise<void>;
  /** Its end, awaited with a deadline (default DEADLINES.killed): a DeadlineError if it runs on. */
  waitExit(opts?: Wait): Promise<ExitInfo>;
  stop(opts?: StopOptions): Promise<ExitInfo>;
}

export interface HostSpawnOptions {
  /** Short label for the registry, logs and errors ("src", "dst", "bridge"). */
  name: string;
  /** Files on that host that receive the output (appended). */
  stdoutFile?: string;
  stderrFile?: string;
}

/**
 * Where one side's work runs: processes, files, unix sockets. Local is this machine; ssh is
 * another one reached over ssh2 (host/ssh.ts). Paths are that host's paths.
 */
export interface Host {
  readonly name: string;
  readonly kind: 'local' | 'ssh';
  /** The control link, where there is one to lose. */
  readonly link?: LinkState;
  /** Runs argv to completion (each word quoted for the remote shell, never a built string). */
  exec(argv: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  spawn(argv: readonly string[], opts: HostSpawnOptions): Promise<HostProcess>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
  /** Copies a local file there (images, QEMU builds). */
  putFile(localPath: string, path: string): Promise<void>;
  /** A fresh 0700 directory for sockets and scratch files, removed by cleanup(). */
  privateDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }>;
  /** A stream to a unix socket on that host (QMP, the guest agent, the heartbeat). */
  connectUnix(path: string): Promise<Duplex>;
  /** Appends what a file on that host gets, as it grows, to a local file (stderr, the serial console). */
  follow(path: string, localFile: string): Promise<{ stop(): Promise<void> }>;
  /**
   * The live members of a process group there and the TCP sockets they hold: how a port the
   * kernel chose (port 0) is read back from a process that cannot be asked (socat, a
   * destination whose monitor is blocked in postcopy).
   */
  groupSockets(pgid: number): Promise<GroupSockets>;
  close(): Promise<void>;
}

/**
 * The control link to a host, for what streams through it (QMP, the heartbeat): after a
 * loss, a stream opened in an earlier generation is dead and is opened again once the link
 * is restored. This machine has none.
 */
export interface LinkState {
  generation(): number;
  down(): boolean;
  /** Waits until the link is back (reconnecting), or throws saying why not. */
  restore(): Promise<void>;
}

export interface GroupSockets {
  members: number[];
  sockets: TcpSocket[];
}

/** The ports a group listens on. */
export const listening = (g: GroupSockets): number[] => listeningOf(g.sockets);
