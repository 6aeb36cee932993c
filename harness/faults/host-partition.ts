import type { Host } from '../host/host.js';
import { MigtestError } from '../util/errors.js';

/**
 * A silent partition of one migration connection, made on a host with nftables: packets to
 * and from the peer's migration port are dropped, no RST, no FIN. Only that port: the
 * control link (ssh) may share the address on real hosts and must stay up.
 */
export class HostPartition {
  private readonly table = `migtest_partition_${process.pid}`;
  private on = false;

  constructor(
    private readonly host: Host,
    private readonly peer: string,
    private readonly port: number,
  ) {}

  private async nft(...words: string[]): Promise<void> {
    const r = await this.host.exec(['nft', ...words]);
    if (r.code !== 0) throw new MigtestError(`host ${this.host.name}: nft ${words.join(' ')} failed: ${r.stderr.trim()}`);
  }

  async partition(): Promise<void> {
    await this.heal();
    await this.nft('add', 'table', 'inet', this.table);
    await this.nft('add', 'chain', 'inet', this.table, 'out', '{ type filter hook output priority 0; policy accept; }');
    await this.nft('add', 'chain', 'inet', this.table, 'in', '{ type filter hook input priority 0; policy accept; }');
    await this.nft('add', 'rule', 'inet', this.table, 'out', 'ip', 'daddr', this.peer, 'tcp', 'dport', String(this.port), 'drop');
    await this.nft('add', 'rule', 'inet', this.table, 'in', 'ip', 'saddr', this.peer, 'tcp', 'sport', String(this.port), 'drop');
    this.on = true;
  }

  async heal(): Promise<void> {
    if (!this.on) return;
    await this.nft('delete', 'table', 'inet', this.table);
    this.on = false;
  }

  async stop(): Promise<void> {
    await this.heal().catch(() => undefined);
  }
}
