import { CheckFailedError } from '../util/errors.js';
import type { StartedVm } from '../vm/started.js';

export class SettingDidNotStickError extends CheckFailedError {}

export interface MigrationSettings {
  capabilities?: Record<string, boolean>;
  parameters?: Record<string, unknown>;
}

/** Sets capabilities (`events` always on) and parameters, then reads both back; a value that did not stick fails. */
export async function applySettings(vm: StartedVm, settings: MigrationSettings): Promise<void> {
  const caps = { events: true, ...(settings.capabilities ?? {}) };
  await vm.qmp.execute('migrate-set-capabilities', {
    capabilities: Object.entries(caps).map(([capability, state]) => ({ capability, state })),
  });
  const params = settings.parameters ?? {};
  if (Object.keys(params).length) await vm.qmp.execute('migrate-set-parameters', params);
  await verifySettings(vm, caps, params);
}

export async function verifySettings(vm: StartedVm, caps: Record<string, boolean>, params: Record<string, unknown>): Promise<void> {
  const gotCaps = new Map(
    (await vm.qmp.execute<Array<{ capability: string; state: boolean }>>('query-migrate-capabilities')).map((c) => [c.capability, c.state]),
  );
  for (const [cap, want] of Object.entries(caps))
    if (gotCaps.get(cap) !== want)
      throw new SettingDidNotStickError(`${vm.name}: capability ${cap} reads back ${gotCaps.get(cap)} after setting ${want}`);
  const gotParams = await vm.qmp.execute<Record<string, unknown>>('query-migrate-parameters');
  for (const [param, want] of Object.entries(params))
    if (JSON.stringify(gotParams[param]) !== JSON.stringify(want))
      throw new SettingDidNotStickError(`${vm.name}: parameter ${param} reads back ${JSON.stringify(gotParams[param])} after setting ${JSON.stringify(want)}`);
}
