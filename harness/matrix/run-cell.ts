import { runAccel } from '../host/accel.js';
import { RamWorkload } from '../guest/ramcheck.js';
import { applySettings } from '../migration/apply.js';
import { startPair } from '../migration/pair.js';
import { migrateAndVerify } from '../migration/verify.js';
import { findBinary } from '../qemu/catalog.js';
import { probeBinary, type QemuProbe } from '../qemu/probe.js';
import { QmpCommandError } from '../qmp/errors.js';
import type { ScenarioContext } from '../testing/scenario.js';
import { CheckFailedError } from '../util/errors.js';
import { scaled } from '../util/time.js';
import { expectCell } from './expect.js';
import type { MatrixCell } from './model.js';

const version = (v: string) => (v === 'default' ? undefined : v);

/** Capabilities to send: those set on, and those set off that both binaries know. */
function capabilitiesFor(cell: MatrixCell, probes: QemuProbe[]): Record<string, boolean> {
  return Object.fromEntries(
    Object.entries(cell.capabilities).filter(([c, on]) => on || probes.every((p) => p.capabilities.includes(c))),
  );
}

/**
 * Runs one matrix cell as its computed expectation says: skip (naming what the binary lacks),
 * refused (QEMU must say the rule's message, and the source keeps running), or migrate with a
 * RAM workload, then check liveness and RAM integrity on the destination.
 */
export async function runCell(cell: MatrixCell, ctx: ScenarioContext): Promise<void> {
  const [srcBin, dstBin] = await Promise.all([findBinary(cell.arch, version(cell.qemu.src)), findBinary(cell.arch, version(cell.qemu.dst))]);
  const probes = { src: await probeBinary(srcBin), dst: await probeBinary(dstBin) };
  const accel = (await runAccel(srcBin)).accel;
  const expectation = expectCell(cell, probes, accel);
  ctx.result.extra = { cell: cell.id, qemu: `${srcBin.version}->${dstBin.version}`, expectation: expectation.kind };
  ctx.artifacts.writeJson('cell.json', { cell, expectation, versions: { src: srcBin.version, dst: dstBin.version } });
  if (expectation.kind === 'skip') return ctx.skip(expectation.reason);

  const pair = await startPair(ctx.vms, cell.arch, {
    configure: (b) => b.withBinary(srcBin),
    configureDst: (b) => b.withBinary(dstBin),
  });
  const capabilities = capabilitiesFor(cell, [probes.src, probes.dst]);

  if (expectation.kind === 'refused') {
    const vm = expectation.side === 'source' ? pair.src : pair.dst;
    const err = await applySettings(vm, { capabilities, parameters: cell.parameters }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof QmpCommandError) || !err.desc.includes(expectation.rule.message))
      throw new CheckFailedError(
        `${vm.name} (QEMU ${vm.qemuVersion}) should refuse ${cell.id} with "${expectation.rule.message}" (rule ${expectation.rule.id}: ${expectation.rule.why}), ` +
          `but ${err ? `said: ${(err as Error).message}` : 'accepted it'}`,
      );
    (ctx.result.extra as Record<string, unknown>).refusal = err.desc;
    ctx.result.verdict = `refused by ${expectation.side}`;
    // The refusal must leave the source running, its guest alive.
    const st = await pair.src.status();
    if (st.status !== 'running') throw new CheckFailedError(`source is '${st.status}' after the refusal, expected running`);
    await pair.src.heartbeat!.waitForBeats(20, scaled(10_000));
    return;
  }

  const ram = await RamWorkload.start(pair.src, cell.workload);
  await migrateAndVerify(pair, ctx, { transport: cell.transport, capabilities, parameters: cell.parameters });
  const report = await ram.check(pair.dst);
  ctx.artifacts.writeJson('ram-check.json', report);
  Object.assign(ctx.result.extra as Record<string, unknown>, { ramPages: report.pages, ramPasses: report.passes });
}
