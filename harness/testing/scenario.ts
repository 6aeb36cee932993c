import { test } from 'vitest';
import { ArtifactDir } from '../report/artifacts.js';
import { recordResult, type ScenarioResult } from '../report/results.js';
import { scaled } from '../util/time.js';
import { VmPool } from './pool.js';

/** Raised by ctx.skip(): the host lacks something; the reason must name it. */
class SkipSignal extends Error {}

export interface ScenarioContext {
  artifacts: ArtifactDir;
  vms: VmPool;
  /** Figures the scenario reports into results.json. */
  result: Partial<ScenarioResult>;
  skip(reason: string): never;
  /** Stopped after the VMs, in reverse order, each even if an earlier one threw (bridges, namespaces). */
  track<T extends Stoppable>(thing: T): T;
}

export interface Stoppable {
  stop(): Promise<unknown>;
}

export interface ScenarioMeta {
  suite: string;
  arch?: string;
  timeoutMs?: number;
}

/**
 * A vitest test around one scenario: a per-test artifacts directory, VMs that are always
 * stopped (every one, whatever failed first), a results.json row, and failure messages
 * that name the artifacts directory.
 */
export function scenario(name: string, meta: ScenarioMeta, fn: (ctx: ScenarioContext) => Promise<void>): void {
  test(name, { timeout: meta.timeoutMs ?? scaled(600_000) }, async (tctx) => {
    const artifacts = ArtifactDir.forTest(`${meta.suite}/${meta.arch ?? 'any'}/${name}`);
    const vms = new VmPool(artifacts);
    const result: Partial<ScenarioResult> = {};
    const base = { suite: meta.suite, scenario: name, arch: meta.arch, artifacts: artifacts.path };
    const started = Date.now();
    const tracked: Stoppable[] = [];
    let error: unknown;
    let skipped: string | undefined;
    try {
      await fn({
        artifacts,
        vms,
        result,
        skip: (reason) => {
          throw new SkipSignal(reason);
        },
        track: (thing) => {
          tracked.push(thing);
          return thing;
        },
      });
    } catch (e) {
      if (e instanceof SkipSignal) skipped = e.message;
      else error = e;
    }
    const stopErrors = await vms.stopAll();
    for (const t of tracked.reverse()) await t.stop().catch((e: Error) => stopErrors.push(e));
    const wallMs = Date.now() - started;
    if (skipped !== undefined) {
      recordResult({ ...base, ...result, outcome: 'skipped', reason: skipped, wallMs });
      tctx.skip(skipped);
      return;
    }
    if (!error && stopErrors.length) error = stopErrors[0];
    if (error) {
      const message = error instanceof Error ? error.message : String(error);
      recordResult({ ...base, ...result, outcome: 'failed', wallMs, error: message.split('\n')[0] });
      if (error instanceof Error) error.message = `${message}\n  artifacts: ${artifacts.path}`;
      throw error;
    }
    recordResult({ ...base, ...result, outcome: 'passed', wallMs });
  });
}
