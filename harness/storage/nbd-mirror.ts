import { DEADLINES } from '../util/deadlines.js';
import { dirname, join } from 'node:path';
import type { QmpEvent } from '../qmp/types.js';
import { MigtestError } from '../util/errors.js';
import type { StartedVm } from '../vm/started.js';

export class MirrorError extends MigtestError {}

export type MirrorSync = 'full' | 'top';

export interface MirrorOptions {
  /** Node the destination exports (its own copy of the disk, opened by -blockdev). */
  dstNode: string;
  /** Root node on the source that the guest's device sits on. */
  srcNode: string;
  sync: MirrorSync;
}

/** A user's image across two hosts: both sides overlay the same file, so only what the guest wrote is copied. */
export const ROOT_MIRROR: MirrorOptions = { srcNode: 'root', dstNode: 'root', sync: 'top' };

/** BLOCK_JOB_READY / COMPLETED data: how much the job copied. */
export interface JobProgress {
  len: number;
  offset: number;
  /** complete(): from block-job-cancel to BLOCK_JOB_COMPLETED (inside the downtime at pre-switchover). */
  tookMs?: number;
}

/** Names on the source: the mirror job and its NBD client node. */
const jobIdOf = (o: MirrorOptions) => `mirror-${o.srcNode}`;
const targetOf = (o: MirrorOptions) => `nbd-${o.srcNode}`;

/** Where the source's NBD client node connects (QMP's flat SocketAddress). */
interface NbdAddress {
  client: Record<string, unknown>;
  where: string;
}

/**
 * Storage migration without shared storage, as libvirt does it: the destination serves its
 * disk over NBD (a unix socket in its private directory; across two hosts, a port the kernel
 * chose on its migration address), the source mirrors into it until
 * READY, the RAM migration runs, and at pre-switchover (vCPUs stopped, nothing new to copy)
 * the job is cancelled gracefully, which on a READY mirror means: finish copying, no pivot.
 */
export class NbdMirror {
  private constructor(
    readonly src: StartedVm,
    readonly dst: StartedVm,
    readonly opts: MirrorOptions,
    readonly ready: JobProgress,
  ) {}

  get jobId(): string {
    return jobIdOf(this.opts);
  }

  static async start(src: StartedVm, dst: StartedVm, opts: MirrorOptions): Promise<NbdMirror> {
    // One server per destination, whatever it exports (its root and a data disk across two hosts).
    let serving = servers.get(dst);
    if (!serving) {
      servers.set(dst, (serving = startServer(src, dst)));
      // A server that did not start is none: the next mirror tries again, no stop is sent for it.
      serving.catch(() => servers.get(dst) === serving && servers.delete(dst));
    }
    const addr = await serving;
    await dst.qmp.execute('block-export-add', { type: 'nbd', id: `export-${opts.dstNode}`, 'node-name': opts.dstNode, writable: true, name: opts.dstNode });
    const target = targetOf(opts);
    await src.qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': target, server: addr.client, export: opts.dstNode });
    dst.artifacts.writeJson(`nbd-server.json`, { where: addr.where, export: opts.dstNode });
    const mark = src.qmp.mark();
    const jobId = jobIdOf(opts);
    await src.qmp.execute('blockdev-mirror', { 'job-id': jobId, device: opts.srcNode, target, sync: opts.sync });
    const e = await src.qmp.waitForEvent('BLOCK_JOB_READY', (ev) => ev.data?.device === jobId, { timeoutMs: DEADLINES.mirrorReady, since: mark }).catch(async (err) => {
      throw new MirrorError(`${src.name}: mirror ${jobId} did not become READY: ${(err as Error).message}; jobs: ${JSON.stringify(await src.qmp.execute('query-block-jobs'))}`);
    });
    return new NbdMirror(src, dst, opts, progress(e));
  }

  /** Graceful cancel of the READY job: it copies what is still dirty and ends COMPLETED (not CANCELLED). */
  async complete(): Promise<JobProgress> {
    const mark = this.src.qmp.mark();
    const started = Date.now();
    await this.src.qmp.execute('block-job-cancel', { device: this.jobId });
    const e = await this.src.qmp.waitForEvent('BLOCK_JOB_COMPLETED', (ev) => ev.data?.device === this.jobId, { timeoutMs: DEADLINES.mirrorComplete, since: mark });
    if (e.data?.error) throw new MirrorError(`${this.src.name}: mirror ${this.jobId} ended with an error: ${String(e.data.error)}`);
    // The NBD client node goes too (libvirt blockdev-dels it): nothing of the source points at the destination any more.
    await this.src.qmp.execute('blockdev-del', { 'node-name': targetOf(this.opts) });
    return { ...progress(e), tookMs: Date.now() - started };
  }

  /**
   * A migration that failed before the pre-switchover left the job running (or failed) against
   * a destination that is gone: it is cancelled and its NBD node removed, so the disk can be
   * mirrored again to another destination.
   */
  async abandon(): Promise<void> {
    const jobs = await this.src.qmp.execute<Array<{ device: string }>>('query-block-jobs');
    if (jobs.some((j) => j.device === this.jobId)) {
      const mark = this.src.qmp.mark();
      // The job may end on its own meanwhile (its target gone): then there is nothing to cancel.
      const cancelled = await this.src.qmp.execute('block-job-cancel', { device: this.jobId, force: true }).then(
        () => true,
        async (e: unknown) => {
          if ((await this.src.qmp.execute<Array<{ device: string }>>('query-block-jobs')).some((j) => j.device === this.jobId)) throw e;
          return false;
        },
      );
      if (cancelled) {
        const ended = (ev: QmpEvent) => ev.data?.device === this.jobId;
        await Promise.any(['BLOCK_JOB_CANCELLED', 'BLOCK_JOB_COMPLETED'].map((name) => this.src.qmp.waitForEvent(name, ended, { timeoutMs: DEADLINES.mirrorComplete, since: mark })));
      }
    }
    const nodes = await this.src.qmp.execute<Array<{ 'node-name': string }>>('query-named-block-nodes', { flat: true });
    if (nodes.some((n) => n['node-name'] === targetOf(this.opts))) await this.src.qmp.execute('blockdev-del', { 'node-name': targetOf(this.opts) });
  }

  /** After the switchover: the destination stops serving its disks (libvirt's Finish); once, whichever mirror asks first. */
  async stopServer(): Promise<void> {
    if (!servers.delete(this.dst)) return;
    await this.dst.qmp.execute('nbd-server-stop');
  }
}

/** Each destination's NBD server, started by its first mirror. */
const servers = new WeakMap<StartedVm, Promise<NbdAddress>>();

/**
 * Starts the destination's NBD server where the source can reach it: its private directory
 * when both run on one host; else port 0 on its migration address, the port read back from
 * its sockets (nbd-server-start does not say which it got).
 */
async function startServer(src: StartedVm, dst: StartedVm): Promise<NbdAddress> {
  if (src.on === dst.on) {
    const path = join(dirname(dst.paths.qmp), 'nbd.sock');
    await dst.qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path } } });
    return { client: { type: 'unix', path }, where: `unix:${path}` };
  }
  const host = dst.listenAddress;
  if (!host) throw new MirrorError(`${dst.name}: on host ${dst.on.name} without a migration address to serve NBD on`);
  const before = await dst.listeningPorts();
  await dst.qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host, port: '0' } } });
  const fresh = await dst.waitNewListener(before, `NBD server listening on ${host} (host ${dst.on.name})`);
  if (fresh.length !== 1) throw new MirrorError(`${dst.name}: expected one new listening port after nbd-server-start on ${host}, found ${JSON.stringify(fresh)} (before: ${JSON.stringify([...before])})`);
  return { client: { type: 'inet', host, port: String(fresh[0]) }, where: `${host}:${fresh[0]} on host ${dst.on.name}` };
}

function progress(e: QmpEvent): JobProgress {
  return { len: Number(e.data?.len ?? 0), offset: Number(e.data?.offset ?? 0) };
}
