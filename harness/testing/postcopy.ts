import { BridgeChain } from '../faults/bridge.js';
import type { RamWorkload } from '../guest/ramcheck.js';
import type { Arch } from '../images/recipe.js';
import { startMigration, type MigrateOptions, type RunningMigration } from '../migration/migrate.js';
import { startPairWithRam, type Pair, type PairOptions } from '../migration/pair.js';
import { postcopyBlocktime, postcopySettings, switchToPostcopy, unthrottlePostcopy, type PostcopyOptions } from '../migration/postcopy.js';
import { verifyMigration } from '../migration/verify.js';
import type { ScenarioContext } from './scenario.js';

/** The guest dirties 64 MiB as fast as it can: every page it touches in postcopy may be missing. */
export const POSTCOPY_WORKLOAD = { mib: 64, rateMiBs: 0 };
/** 4 MiB/s keeps postcopy active for several seconds: long enough to be hit by a fault. */
export const POSTCOPY_THROTTLE = 4 << 20;

export interface PostcopyRun extends Pair {
  ram: RamWorkload;
  m: RunningMigration;
  bridges: BridgeChain;
}

export interface PostcopyRunOptions extends PostcopyOptions, PairOptions {
  /** Route through socat bridges (default) so the link can be killed; false: direct. */
  bridged?: boolean;
  migrate?: MigrateOptions;
  /** Runs during precopy, before the switch to postcopy (qtest's start hook). */
  beforePostcopy?: (m: RunningMigration) => Promise<void>;
}

/**
 * A pair with the RAM workload, migrating with postcopy (throttled) through a socat bridge,
 * switched to postcopy after the first pass: the starting point of every postcopy fault.
 */
export async function startPostcopy(ctx: ScenarioContext, arch: Arch, opts: PostcopyRunOptions = {}): Promise<PostcopyRun> {
  const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, POSTCOPY_WORKLOAD, opts);
  const bridges = ctx.track(new BridgeChain(ctx.artifacts));
  const m = await startMigration(pair.src, pair.dst, {
    ...postcopySettings({ bandwidth: POSTCOPY_THROTTLE, ...opts }),
    ...(opts.bridged === false ? {} : { route: bridges.route }),
    ...opts.migrate,
  });
  await opts.beforePostcopy?.(m);
  await switchToPostcopy(m);
  return { ...pair, ram, m, bridges };
}

/** Lifts the throttle, waits for completion, and checks liveness, RAM and the postcopy figures. */
export async function completePostcopy(ctx: ScenarioContext, run: PostcopyRun): Promise<void> {
  await unthrottlePostcopy(run.m);
  await verifyMigration(run, ctx, await run.m.finish());
  ctx.result.postcopyBlocktimeMs = (await postcopyBlocktime(run.dst)).blocktimeMs;
  await run.ram.check(run.dst);
}
