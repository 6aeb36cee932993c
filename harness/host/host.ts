import type { Duplex } from 'node:stream';
import type { ExitInfo, StopOptions } from './process.js';

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
  /** Signals the whole group (on its host). */
  signal(sig: 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): void;
  /** Whether it exits within `ms` (unscaled). */
  waitExit(ms: number): Promise<boolean>;
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
  close(): Promise<void>;
}
