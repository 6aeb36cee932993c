import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { linkGeneration, linkOf, lostWithLink, type SocketTarget } from '../qmp/connection.js';
import { createWriteStream, type WriteStream } from 'node:fs';
import { BeatLog } from './beats.js';

export type { Beat } from './beats.js';

/**
 * Reads the guest's heartbeat port. The guest blocks writing until the host connects, so a
 * beat is never dropped for lack of a reader; the host stamps each line on arrival.
 */
export class HeartbeatStream extends BeatLog {
  readonly kind = 'heartbeat';
  readonly periodMs = 15;
  private buf = '';
  private stopped = false;
  private log: WriteStream | undefined;
  private socket!: Duplex;

  private constructor(
    vm: string,
    socket: Duplex,
    private readonly target: SocketTarget,
    private gen: number,
    logFile?: string,
  ) {
    super(vm);
    this.log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    this.attach(socket);
  }

  private attach(socket: Duplex): void {
    this.socket = socket;
    this.buf = '';
    const gone = () => {
      if (socket !== this.socket) return;
      // Lost with the control link: the guest's writes wait in its port until a reader is
      // back (no beat is dropped), so read on once the link is restored.
      if (!this.stopped && lostWithLink(this.target, this.gen)) void this.reopen();
      else this.closed = true;
    };
    socket.on('data', (d) => this.onData(d.toString('utf8')));
    socket.on('close', gone);
    socket.on('error', gone);
  }

  private async reopen(): Promise<void> {
    const link = linkOf(this.target);
    try {
      await link!.restore();
      this.gen = link!.generation();
      const s = await (this.target as { open: () => Promise<Duplex> }).open();
      if (this.stopped) return void s.destroy();
      this.reopens++;
      this.log?.write(`${Date.now()} # reopened after the control link came back\n`);
      this.attach(s);
    } catch {
      this.closed = true;
    }
  }

  static async connect(path: SocketTarget, vm: string, logFile?: string): Promise<HeartbeatStream> {
    const gen = linkGeneration(path);
    if (typeof path !== 'string') return new HeartbeatStream(vm, await path.open(), path, gen, logFile);
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new HeartbeatStream(vm, s, path, gen, logFile)));
      s.once('error', reject);
    });
  }

  close(): void {
    this.stopped = true;
    this.socket.destroy();
    this.log?.end();
  }

  private onData(text: string): void {
    this.buf += text;
    let nl: number;
    const now = Date.now();
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      this.log?.write(`${now} ${line}\n`);
      const hb = /^HB (\d+) ([\d.]+) ([\d.]+)$/.exec(line);
      if (hb) {
        this.beats.push({ n: Number(hb[1]), guestMono: Number(hb[2]), guestReal: Number(hb[3]), hostMs: now, vm: this.vm });
        continue;
      }
      const ready = /^READY boot=(\S+)/.exec(line);
      if (ready) {
        this.readyBoot = ready[1];
        this.readyAt = now;
      }
    }
  }
}
