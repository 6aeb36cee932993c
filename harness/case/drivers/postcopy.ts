import { postcopyBlocktime, postcopyLatency, postcopySettings, switchToPostcopy, unthrottlePostcopy } from '../../migration/postcopy.js';
import { TERMINAL } from '../../migration/stats.js';
import { NOTHING_MORE, type ModeDriver } from './driver.js';

/** 4 MiB/s keeps postcopy active for several seconds: long enough to be hit by a fault. */
export const POSTCOPY_THROTTLE = 4 << 20;

/**
 * Postcopy: postcopy-ram (and blocktime) on both sides, throttled, switched after the first
 * pass (or the case's `postcopy.switchAfter`); the throttle lifted before the end; blocktime
 * and (from 10.1) the page-fault latency recorded.
 */
export const postcopy: ModeDriver = {
  ...NOTHING_MORE,
  /** 64 MiB dirtied as fast as the guest can: every page it touches may be missing. */
  workload: { mib: 64, rateMiBs: 0 },
  bridged: false,
  settings: (spec) => postcopySettings({ bandwidth: POSTCOPY_THROTTLE, ...spec.postcopy }),
  async started(run) {
    const hooks = run.case.hooks;
    await hooks?.beforePostcopy?.(run);
    await switchToPostcopy(run.m, run.case.migration?.postcopy?.switchAfter);
    await hooks?.inPostcopy?.(run);
  },
  async finishing(run) {
    const m = run.m;
    if (m.src.process.running && !TERMINAL.has(m.sampler.last?.status ?? 'none')) await unthrottlePostcopy(m).catch(() => undefined);
  },
  async completed(run, report) {
    report.figures.postcopyBlocktimeMs = (await postcopyBlocktime(run.dst)).blocktimeMs;
    const latency = await postcopyLatency(run.dst);
    report.figures.postcopyLatencyUs = latency.latencyUs;
    report.figures.postcopyRemoteFaults = latency.remoteFaults;
  },
};
