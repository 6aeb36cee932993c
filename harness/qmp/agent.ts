import { randomInt } from 'node:crypto';
import { scaled } from '../util/time.js';
import { JsonConnection } from './connection.js';
import { Transcript } from './transcript.js';

/**
 * qemu-guest-agent over the same framing as QMP. The agent has no greeting; guest-sync-delimited
 * flushes stale bytes (a reply meant for a previous client) before the first real command.
 */
export class GuestAgentClient {
  private constructor(private readonly conn: JsonConnection) {}

  static async connect(path: string, vm: string, transcriptFile?: string): Promise<GuestAgentClient> {
    const timeoutMs = scaled(10_000);
    const transcript = new Transcript(`${vm}.qga`, transcriptFile);
    const socket = await JsonConnection.open(path, vm, transcript, timeoutMs);
    return new GuestAgentClient(new JsonConnection(vm, socket, transcript, scaled(30_000)));
  }

  /** Syncs the stream: the agent echoes a random id back; anything before it is stale. */
  async sync(timeoutMs = scaled(3_000)): Promise<void> {
    const token = randomInt(1, 2 ** 31);
    const id = `sync-${token}`;
    await this.conn.request(
      { execute: 'guest-sync-delimited', arguments: { id: token }, id },
      id,
      'guest-sync-delimited',
      { timeoutMs },
    );
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    const id = this.conn.nextId('ga');
    const msg: Record<string, unknown> = { execute: command, id };
    if (args) msg.arguments = args;
    return this.conn.request<T>(msg, id, command, { timeoutMs });
  }

  ping(timeoutMs?: number): Promise<unknown> {
    return this.execute('guest-ping', undefined, timeoutMs);
  }

  /** Runs a program in the guest and waits for it; returns exit code and decoded output. */
  async exec(
    path: string,
    args: string[] = [],
    timeoutMs = scaled(60_000),
  ): Promise<{ exitcode: number; stdout: string; stderr: string }> {
    const { pid } = await this.execute<{ pid: number }>('guest-exec', { path, arg: args, 'capture-output': true });
    const end = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.execute<{
        exited: boolean;
        exitcode?: number;
        'out-data'?: string;
        'err-data'?: string;
      }>('guest-exec-status', { pid });
      if (st.exited)
        return {
          exitcode: st.exitcode ?? -1,
          stdout: Buffer.from(st['out-data'] ?? '', 'base64').toString(),
          stderr: Buffer.from(st['err-data'] ?? '', 'base64').toString(),
        };
      if (Date.now() > end) throw new Error(`guest-exec ${path} did not finish in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    this.conn.close();
    await this.conn.transcript.close();
  }
}
