import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { reproPlan, reproScript } from '../report/repro.js';
import { ConfigError } from '../util/errors.js';

/** `migtest repro DIR`: writes the replay script; returns what to tell the user. */
export function reproCommand(dir: string, opts: { out?: string } = {}): string {
  const full = resolve(dir);
  if (!existsSync(full)) throw new ConfigError('repro', `'${dir}' does not exist`, ["a scenario's artifacts directory (the path a failure message names)"]);
  const plan = reproPlan(full);
  const out = resolve(opts.out ?? join(full, 'repro.py'));
  writeFileSync(out, reproScript(plan));
  chmodSync(out, 0o755);
  return [
    `wrote ${out}: ${plan.steps.length} QMP commands over ${Object.keys(plan.sides).join(' and ')}`,
    ...plan.notes.map((n) => `note: ${n}`),
    `run it: python3 ${out} [--keep] [--timeout SECONDS]`,
  ].join('\n');
}
