import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { runChecked } from '../host/command.js';
import { isAlive, procStat } from '../host/procfs.js';
import { MigtestError } from '../util/errors.js';

/**
 * Two network namespaces joined by a veth pair, for a silent partition between a source
 * and a destination that run inside them (VmBuilder.withNetns). Named after this runner
 * (pid and start time) so a later run can remove the ones a dead runner left.
 */
const PREFIX = 'migtest_';
const SUBNET = '10.254.0';
let counter = 0;

export class NetnsError extends MigtestError {}

const run = (file: string, args: string[], input?: string) => runChecked(file, args, { input, error: NetnsError });

export interface Netns {
  name: string;
  /** This side's address on the veth link. */
  addr: string;
  ifname: string;
}

export type PartitionDirection = 'both' | 'a-to-b' | 'b-to-a';

export class NetnsLink {
  private partitioned: PartitionDirection | undefined;
  private destroyed = false;

  private constructor(
    readonly a: Netns,
    readonly b: Netns,
  ) {}

  static async create(): Promise<NetnsLink> {
    const base = `${PREFIX}${process.pid}_${procStat(process.pid)?.startTime ?? 0}_${++counter}`;
    const a: Netns = { name: `${base}a`, addr: `${SUBNET}.1`, ifname: 'mtveth0' };
    const b: Netns = { name: `${base}b`, addr: `${SUBNET}.2`, ifname: 'mtveth1' };
    const link = new NetnsLink(a, b);
    try {
      await run('ip', ['netns', 'add', a.name]);
      await run('ip', ['netns', 'add', b.name]);
      // Created inside a, peer moved to b: the names only need to be unique in there.
      await run('ip', ['-n', a.name, 'link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.name]);
      for (const ns of [a, b]) {
        await run('ip', ['-n', ns.name, 'addr', 'add', `${ns.addr}/30`, 'dev', ns.ifname]);
        await run('ip', ['-n', ns.name, 'link', 'set', ns.ifname, 'up']);
        await run('ip', ['-n', ns.name, 'link', 'set', 'lo', 'up']);
      }
    } catch (e) {
      await link.destroy();
      throw e;
    }
    return link;
  }

  /**
   * Drops packets on the link with nftables inside namespace a: no RST, no FIN, nothing —
   * both sides see a silent hang. The table lives and dies with the namespace.
   */
  async partition(direction: PartitionDirection = 'both'): Promise<void> {
    const rules: string[] = [];
    if (direction !== 'b-to-a') rules.push(`  chain out { type filter hook output priority 0; policy accept; oifname "${this.a.ifname}" drop; }`);
    if (direction !== 'a-to-b') rules.push(`  chain in { type filter hook input priority 0; policy accept; iifname "${this.a.ifname}" drop; }`);
    await this.heal();
    await run('ip', ['netns', 'exec', this.a.name, 'nft', '-f', '-'], `table inet migtest_partition {\n${rules.join('\n')}\n}\n`);
    this.partitioned = direction;
  }

  async heal(): Promise<void> {
    if (!this.partitioned) return;
    await run('ip', ['netns', 'exec', this.a.name, 'nft', 'delete', 'table', 'inet', 'migtest_partition']);
    this.partitioned = undefined;
  }

  get isPartitioned(): PartitionDirection | undefined {
    return this.partitioned;
  }

  /** Removes both namespaces (and with them the veth and the rules). Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const ns of [this.a, this.b]) await execa('ip', ['netns', 'del', ns.name], { reject: false });
  }

  async stop(): Promise<void> {
    await this.destroy();
  }
}

/** Namespaces left by runners that are gone: removed; returns their names. */
export async function reapNetns(): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^migtest_(\d+)_(\d+)_\d+(a|b|lan)$/.exec(name);
    if (!m || isAlive(Number(m[1]), Number(m[2]))) continue;
    const r = await execa('ip', ['netns', 'del', name], { reject: false });
    if (r.exitCode === 0) removed.push(name);
  }
  return removed;
}
