import { listening, type Host, type HostProcess } from '../host/host.js';
import { localHost } from '../host/local.js';
import { spawnLogged } from '../host/logged.js';
import type { TcpSocket } from '../host/sockets.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { MigtestError } from '../util/errors.js';
import { DEADLINES, deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';

export interface Endpoint {
  host: string;
  port: number;
}

export class BridgeError extends MigtestError {}

/** "tcp:127.0.0.1:4444" -> endpoint. */
export function parseTcpUri(uri: string): Endpoint {
  const m = /^tcp:(.+):(\d+)$/.exec(uri);
  if (!m) throw new BridgeError(`not a tcp: migration URI: ${uri}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

let counter = 0;

/**
 * A socat TCP bridge the migration URI points at, so the link can be broken on purpose
 * (qemu-devel's postcopy recovery tests did exactly this). Fluent; start() gives a
 * StartedBridge, the only state that can be stalled or killed. It runs on a Host: this
 * machine by default, the source's host across two hosts.
 */
export class SocatBridge {
  private host: Host = localHost;
  private listenHost = '127.0.0.1';
  private listenPort = 0;
  private artifacts: ArtifactDir | undefined;
  private name: string;

  constructor(readonly target: Endpoint) {
    this.name = `bridge${++counter}`;
  }

  withName(name: string): this {
    this.name = name;
    return this;
  }
  /** 0 (default): the kernel picks; read back from /proc. A fixed port is for restarting on the same one. */
  withListenPort(port: number): this {
    this.listenPort = port;
    return this;
  }
  withListenHost(host: string): this {
    this.listenHost = host;
    return this;
  }
  withArtifacts(dir: ArtifactDir): this {
    this.artifacts = dir;
    return this;
  }
  /** The host socat runs on (its listener is that host's). */
  withHost(host: Host): this {
    this.host = host;
    return this;
  }

  /** A builder for the same bridge toward `target`, named `name`, listening on `port`. */
  derive(target: Endpoint, name: string, port: number): SocatBridge {
    const b = new SocatBridge(target).withName(name).withListenHost(this.listenHost).withListenPort(port).withHost(this.host);
    if (this.artifacts) b.withArtifacts(this.artifacts);
    return b;
  }

  async start(): Promise<StartedBridge> {
    const args = [
      '-d',
      '-d',
      // fork: one child per connection (postcopy-preempt opens a second one); reuseaddr so a
      // restart can bind the same port while old connections sit in TIME_WAIT.
      `TCP-LISTEN:${this.listenPort},bind=${this.listenHost},reuseaddr,fork`,
      `TCP:${this.target.host}:${this.target.port}`,
    ];
    const { proc, release } = await spawnLogged(this.host, ['socat', ...args], { name: this.name, log: this.artifacts?.file(`${this.name}.socat.log`) });
    const where = this.host.kind === 'local' ? '' : ` on host ${this.host.name}`;
    const port = await pollUntil(`${this.name}: socat to listen on ${this.listenHost}:${this.listenPort}${where}`, DEADLINES.listen, async () => {
      const ports = listening(await this.host.groupSockets(proc.pid));
      return { done: ports.length > 0 || !proc.running, value: ports[0], state: proc.running ? 'not listening yet' : proc.exit };
    });
    if (port === undefined) {
      await release();
      throw new BridgeError(`${this.name}: socat exited before listening${where}: ${JSON.stringify(proc.exit)} (argv: socat ${args.join(' ')})`);
    }
    return new StartedBridge(this.name, this.host, proc, release, { host: this.listenHost, port }, this.target, this);
  }
}

/** A running bridge: it forwards until stalled or killed. */
export class StartedBridge {
  private stalled = false;

  constructor(
    readonly name: string,
    readonly host: Host,
    readonly process: HostProcess,
    private readonly release: () => Promise<void>,
    readonly listen: Endpoint,
    readonly target: Endpoint,
    private readonly builder: SocatBridge,
  ) {}

  get port(): number {
    return this.listen.port;
  }

  /** The URI the source migrates to. */
  get uri(): string {
    return `tcp:${this.listen.host}:${this.listen.port}`;
  }

  /** Connections the bridge's children hold to the target (one per migration channel). */
  async targetConnections(): Promise<TcpSocket[]> {
    const { sockets } = await this.host.groupSockets(this.process.pid);
    return sockets.filter((s) => s.state === 'ESTABLISHED' && s.remotePort === this.target.port);
  }

  async waitForConnections(n: number, opts: Wait = {}): Promise<void> {
    await pollUntil(`${this.name}: ${n} connection(s) through the bridge to port ${this.target.port}`, deadline(opts, 'helper'), async () => {
      const c = (await this.targetConnections()).length;
      return { done: c >= n, state: `${c} connection(s)` };
    }, 50);
  }

  /** SIGSTOP to the whole group: connections stay open and nothing moves (a silent hang). */
  async stall(): Promise<void> {
    await this.process.signal('SIGSTOP');
    this.stalled = true;
  }

  async unstall(): Promise<void> {
    await this.process.signal('SIGCONT');
    this.stalled = false;
  }

  get isStalled(): boolean {
    return this.stalled;
  }

  /**
   * SIGKILL to the whole group: the listener and every per-connection child, so both QEMUs
   * see their connection drop. Waits until no member is left.
   */
  async kill(): Promise<DeadBridge> {
    const pgid = this.process.pid;
    await this.process.signal('SIGKILL');
    await this.process.waitExit();
    await pollUntil(`${this.name}: every process of group ${pgid} gone after SIGKILL`, DEADLINES.killed, async () => {
      const left = (await this.host.groupSockets(pgid)).members;
      return { done: left.length === 0, state: `left: ${left.join(' ')}` };
    });
    await this.release();
    return new DeadBridge(this.name, this.listen, this.target, this.builder);
  }

  /** Teardown: same as kill, idempotent. */
  async stop(): Promise<void> {
    if (this.process.running || (await this.host.groupSockets(this.process.pid)).members.length) await this.kill();
    else await this.release();
  }
}

/** A killed bridge: nothing to stop; it can be started again on the same port or a new one. */
export class DeadBridge {
  constructor(
    readonly name: string,
    readonly listen: Endpoint,
    readonly target: Endpoint,
    private readonly builder: SocatBridge,
  ) {}

  /** Same port by default (the source's URI stays valid); `{ port: 0 }` for a new one. */
  restart(opts: { port?: number; target?: Endpoint } = {}): Promise<StartedBridge> {
    return this.builder.derive(opts.target ?? this.target, `${this.name}r`, opts.port ?? this.listen.port).start();
  }
}

/**
 * Bridges made on demand as a migration's `route`: each call starts one toward the URI the
 * destination gave. `current` is the one in use; stop() removes every one.
 */
export class BridgeChain {
  readonly bridges: StartedBridge[] = [];
  /** The bridge killCurrent() killed last: it can come back on its port. */
  private lastDead: DeadBridge | undefined;

  /** `host`: where the bridges run (the source's, so that the source reaches them on loopback). */
  constructor(
    private readonly artifacts?: ArtifactDir,
    private readonly host: Host = localHost,
  ) {}

  readonly route = async (dstUri: string): Promise<string> => {
    const b = new SocatBridge(parseTcpUri(dstUri)).withName(`bridge${this.bridges.length + 1}`).withHost(this.host);
    if (this.artifacts) b.withArtifacts(this.artifacts);
    const started = await b.start();
    this.bridges.push(started);
    return started.uri;
  };

  get current(): StartedBridge {
    const b = this.bridges.at(-1);
    if (!b) throw new BridgeError('no bridge started yet');
    return b;
  }

  /** Registers a bridge made elsewhere (a restart) so stop() covers it. */
  adopt(b: StartedBridge): StartedBridge {
    this.bridges.push(b);
    return b;
  }

  /** SIGKILL to the current bridge's group; remembered so it can restart on its port. */
  async killCurrent(): Promise<DeadBridge> {
    this.lastDead = await this.current.kill();
    return this.lastDead;
  }

  /**
   * A `route` that restarts the last killed bridge on its own port toward the destination's
   * new URI: the source's first URI works again.
   */
  readonly restartOnSamePort = async (dstUri: string): Promise<string> => {
    if (!this.lastDead) throw new BridgeError('no killed bridge to restart on its port');
    return this.adopt(await this.lastDead.restart({ target: parseTcpUri(dstUri) })).uri;
  };

  async stop(): Promise<void> {
    const results = await Promise.allSettled(this.bridges.map((b) => b.stop()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
