import { DEADLINES } from '../util/deadlines.js';
import type { Duplex } from 'node:stream';
import { dirname, join } from 'node:path';
import { MigtestError } from '../util/errors.js';
import { withDeadline } from '../util/time.js';
import type { StartedVm } from '../vm/started.js';

/** Minimal GDB remote protocol: enough to write guest physical memory through QEMU's gdbstub. */
class GdbRemote {
  private buf = '';
  private waiters: Array<{ stopReply: boolean; resolve: (p: string) => void }> = [];

  constructor(private readonly sock: Duplex) {
    sock.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
  }

  static checksum(body: string): string {
    let sum = 0;
    for (const c of body) sum = (sum + c.charCodeAt(0)) & 255;
    return sum.toString(16).padStart(2, '0');
  }

  /** `?` is answered by a stop reply; any other request's reply is not one. */
  request(body: string): Promise<string> {
    const reply = new Promise<string>((resolve) => this.waiters.push({ stopReply: body === '?', resolve }));
    this.sock.write(`$${body}#${GdbRemote.checksum(body)}`);
    return withDeadline(`gdbstub reply to ${body.slice(0, 30)}`, DEADLINES.gdb, reply);
  }

  private onData(text: string): void {
    this.buf += text;
    for (;;) {
      this.buf = this.buf.replace(/^[+-]+/, '');
      const m = /^\$([^#]*)#[0-9a-fA-F]{2}/.exec(this.buf);
      if (!m) {
        // Stray bytes before a packet (stop notifications etc.).
        const at = this.buf.indexOf('$');
        if (at > 0) this.buf = this.buf.slice(at);
        return;
      }
      this.buf = this.buf.slice(m[0].length);
      this.sock.write('+');
      // A stop reply nobody asked for (QEMU 7.2's aarch64 stub sends one on attach, then the
      // answer to '?'): not the reply to a request that expects none.
      if (/^[ST][0-9a-fA-F]{2}/.test(m[1]!) && this.waiters[0] && !this.waiters[0].stopReply) continue;
      this.waiters.shift()?.resolve(m[1]!);
    }
  }
}

/**
 * Writes bytes into guest physical memory through QEMU's gdbstub (physical-memory mode).
 * A real fault for the RAM checker's mutation test. Detaching resumes the VM.
 */
export async function writeGuestPhysical(vm: StartedVm, addr: number, bytes: Buffer): Promise<void> {
  const path = join(dirname(vm.paths.qmp), 'gdb.sock');
  await vm.qmp.hmp(`gdbserver unix:${path},server=on,wait=off`);
  // On the VM's own host: through ssh's forwarding when it runs on another one.
  const sock = await vm.on.connectUnix(path);
  try {
    const gdb = new GdbRemote(sock);
    await gdb.request('?');
    const mode = await gdb.request('Qqemu.PhyMemMode:1');
    if (mode !== 'OK') throw new MigtestError(`${vm.name}: gdbstub refused physical memory mode: ${mode}`);
    const r = await gdb.request(`M${addr.toString(16)},${bytes.length.toString(16)}:${bytes.toString('hex')}`);
    if (r !== 'OK') throw new MigtestError(`${vm.name}: gdbstub memory write at 0x${addr.toString(16)} failed: ${r}`);
    await gdb.request('D');
  } finally {
    sock.destroy();
    await vm.qmp.hmp('gdbserver none');
  }
}
