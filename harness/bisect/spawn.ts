import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The processes a bisect starts (migtest run, a build command, git bisect run), each in a
 * process group of its own: a Ctrl-C or a SIGTERM to the bisect is forwarded to the groups
 * it started (never to anything by name), so each stops the way it does on Ctrl-C.
 */
const groups = new Set<number>();
let stopping: NodeJS.Signals | undefined;

export interface StreamOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Each output line goes to this function (the user's terminal, prefixed). */
  line: (text: string) => void;
  /** Each output line is appended here too. */
  logFile?: string;
}

/** Runs argv (never through a shell here), streams its stdout and stderr by line; resolves to its exit code (128 + n when a signal ended it). */
export function runStreaming(argv: readonly string[], opts: StreamOptions): Promise<{ code: number; output: string[]; stdout: string[] }> {
  return new Promise((resolvePromise, reject) => {
    if (stopping) return reject(new Error(`not started: the bisect was interrupted (${stopping})`));
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const output: string[] = [];
    const stdout: string[] = [];
    const onLine = (text: string, fromStdout: boolean) => {
      output.push(text);
      if (fromStdout) stdout.push(text);
      opts.line(text);
      if (opts.logFile) appendFileSync(opts.logFile, `${text}\n`);
    };
    const streams = [child.stdout, child.stderr].map((s, i) => new Promise<void>((done) => createInterface({ input: s }).on('line', (t) => onLine(t, i === 0)).on('close', done)));
    if (child.pid) groups.add(child.pid);
    child.on('error', (e) => {
      if (child.pid) groups.delete(child.pid);
      reject(new Error(`${argv[0]} could not be started: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      void Promise.all(streams).then(async () => {
        // The group may outlive its leader for a moment (a child finishing its clean-up).
        if (child.pid) await groupGone(child.pid);
        if (child.pid) groups.delete(child.pid);
        resolvePromise({ code: code ?? 128 + (signal ? signalNumber(signal) : 0), output, stdout });
      });
    });
  });
}

const signalNumber = (s: NodeJS.Signals) => ({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 } as Record<string, number>)[s] ?? 0;

/** Waits (a minute at most) until no process of the group is left. */
async function groupGone(pgid: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
}

/** Forwards a signal to every process group this process started; later starts are refused. */
export function forwardSignal(signal: NodeJS.Signals): void {
  stopping = signal;
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** The signal that interrupted the bisect, if one did. */
export const interruptedBy = (): NodeJS.Signals | undefined => stopping;

/**
 * SIGINT and SIGTERM forwarded to the groups started here (instead of ending this process at
 * once): what is running stops and the caller's clean-up (git bisect reset) still runs.
 */
export function forwardSignals(): () => void {
  const handler = (s: NodeJS.Signals) => forwardSignal(s);
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
