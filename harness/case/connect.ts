import { PortBlackhole } from '../faults/nft.js';
import { closedLoopbackPort, loopbackListener, type LoopbackListener } from '../host/ports.js';
import { behaviourOf } from '../qemu/behaviour.js';
import { CheckFailedError, DeadlineError } from '../util/errors.js';
import { deadline } from '../util/deadlines.js';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import type { MigrationSpec } from './model.js';

/**
 * Where the source connects instead of the destination (`migration.connect`): a loopback
 * port whose SYNs are dropped (the connect hangs, the migration stays in setup) or a closed
 * one (refused at once). `heal()` lets a hanging connect through and waits until QEMU has
 * closed it: its yank instance is held until then, and a new `migrate` would clash with it.
 */
export class ConnectRoute {
  private constructor(
    readonly kind: NonNullable<MigrationSpec['connect']>,
    readonly port: number,
    private readonly listener?: LoopbackListener,
    private readonly hole?: PortBlackhole,
  ) {}

  static async start(scope: Scope, kind: NonNullable<MigrationSpec['connect']>): Promise<ConnectRoute> {
    if (kind === 'refused') return new ConnectRoute(kind, await closedLoopbackPort());
    const listener = await loopbackListener();
    const hole = await PortBlackhole.start(listener.port);
    const r = new ConnectRoute(kind, listener.port, listener, hole);
    scope.track({ stop: async () => void (await hole.stop(), await listener.close()) });
    return r;
  }

  /** The URI the source is sent to, whatever the destination's. */
  readonly route = async () => `tcp:127.0.0.1:${this.port}`;

  /**
   * While the connect still hangs after a cancel: the source's status is what its QEMU
   * version does (qemu/behaviour.ts: cancelled at once, or cancelling until the connect
   * ends), checked; then the connect is let through and closed by QEMU.
   */
  async heal(src: StartedVm): Promise<void> {
    if (!this.hole || !this.listener) return;
    const cancelled = src.qmp.events.some((e) => e.event === 'MIGRATION' && e.data?.status === 'cancelling');
    if (cancelled) await this.checkCancelSemantics(src);
    await this.hole.stop();
    await this.listener.waitForClosedConnection('the hanging connect attempt to reach us and be closed by QEMU');
  }

  private async checkCancelSemantics(src: StartedVm): Promise<void> {
    const b = behaviourOf(src.qemuVersion).cancelWhileConnecting;
    // A QEMU that cancels at once says so well within this; one that waits for the connect does not.
    const since = src.qmp.events.findIndex((e) => e.event === 'MIGRATION' && e.data?.status === 'cancelling');
    const said = await src.qmp
      .waitForEvent('MIGRATION', (e) => e.data?.status === 'cancelled', { since, timeoutMs: deadline(undefined, 'cancelSettles') })
      .then(() => 'cancelled' as const, (e: unknown) => {
        if (e instanceof DeadlineError) return 'cancelling' as const;
        throw e;
      });
    if (said !== b.status)
      throw new CheckFailedError(`${src.name}: QEMU ${src.qemuVersion} is '${said}' after migrate_cancel while its connect hangs; qemu/behaviour.ts says '${b.status}' (${b.why})`);
  }
}
