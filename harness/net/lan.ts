import { execa } from 'execa';
import { runChecked } from '../host/command.js';
import { procStat } from '../host/procfs.js';
import { NetnsError } from '../faults/netns.js';

/**
 * A guest LAN in its own network namespace: a Linux bridge with the host-side address, and
 * one tap per QEMU (source and destination) on it. The QEMUs run inside the namespace
 * (VmBuilder.withNetns) so they can open the taps; the namespace, and with it every device,
 * is removed by stop() or, after a killed runner, by the reaper (the migtest_ name).
 */
const SUBNET = '10.253.0';
let counter = 0;

const ip = (args: string[]) => runChecked('ip', args, { error: NetnsError });

export class GuestLan {
  readonly bridge = 'mtbr0';
  readonly bridgeMac = '02:6d:74:00:00:01';
  readonly hostAddr = `${SUBNET}.1`;
  readonly guestAddr = `${SUBNET}.2`;
  readonly prefix = 24;
  private destroyed = false;

  private constructor(
    readonly netns: string,
    readonly taps: readonly string[],
  ) {}

  /** One tap per name ("tsrc", "tdst"), all on the bridge. */
  static async create(taps: string[] = ['tsrc', 'tdst']): Promise<GuestLan> {
    const netns = `migtest_${process.pid}_${procStat(process.pid)?.startTime ?? 0}_${++counter}lan`;
    const lan = new GuestLan(netns, taps);
    try {
      await ip(['netns', 'add', netns]);
      const n = ['-n', netns];
      await ip([...n, 'link', 'set', 'lo', 'up']);
      // STP off (the default): ports forward at once. The forwarding database keeps the
      // default ageing (300 s): only a frame from the guest moves its MAC to the new tap.
      await ip([...n, 'link', 'add', lan.bridge, 'address', lan.bridgeMac, 'type', 'bridge']);
      await ip([...n, 'addr', 'add', `${lan.hostAddr}/${lan.prefix}`, 'dev', lan.bridge]);
      await ip([...n, 'link', 'set', lan.bridge, 'up']);
      for (const t of taps) {
        await ip([...n, 'tuntap', 'add', 'dev', t, 'mode', 'tap']);
        await ip([...n, 'link', 'set', t, 'master', lan.bridge]);
        await ip([...n, 'link', 'set', t, 'up']);
      }
    } catch (e) {
      await lan.stop();
      throw e;
    }
    return lan;
  }

  /**
   * A permanent neighbour entry on the host side: the peer never ARPs for the guest, so the
   * only frames that can move the guest's MAC on the bridge come from the guest or QEMU's announce.
   */
  async pinNeighbour(addr: string, mac: string): Promise<void> {
    await ip(['-n', this.netns, 'neigh', 'replace', addr, 'lladdr', mac, 'dev', this.bridge, 'nud', 'permanent']);
  }

  /** Which bridge port the MAC was last seen on (the forwarding database), or undefined. */
  async fdbPort(mac: string): Promise<string | undefined> {
    const r = await execa('bridge', ['-n', this.netns, 'fdb', 'show', 'br', this.bridge], { reject: false });
    const line = r.stdout.split('\n').find((l) => l.toLowerCase().startsWith(`${mac.toLowerCase()} dev `));
    return line?.split(' ')[2];
  }

  async stop(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await execa('ip', ['netns', 'del', this.netns], { reject: false });
  }
}
