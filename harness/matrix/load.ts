import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import { configErrorFrom, readYamlFile } from '../util/zod.js';
import { KNOWN_CAPABILITIES, KNOWN_PARAMETERS, matrixSchema, type CellFilter, type IntRange, type MatrixFile } from './model.js';

export const presetDir = () => join(repoRoot, 'config', 'matrices');

export function presets(): string[] {
  return readdirSync(presetDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort();
}

/** A preset name (smoke, default, full) or a path to a matrix file. */
export function loadMatrix(nameOrPath: string): MatrixFile {
  const file = existsSync(nameOrPath) ? nameOrPath : join(presetDir(), `${nameOrPath}.yaml`);
  if (!existsSync(file)) throw new ConfigError('matrix', `'${nameOrPath}' is neither a preset nor a file`, presets());
  return parseMatrix(readYamlFile(file, 'matrix'), file);
}

/** Validates a matrix; the error names the field and what is allowed. */
export function parseMatrix(raw: unknown, source = 'matrix'): MatrixFile {
  const r = matrixSchema.safeParse(raw);
  if (!r.success) throw configErrorFrom(r.error.issues[0]!, source, describeKeys);
  const m = r.data;
  checkNames(m.axes.capabilities, m.axes.parameters, `${source}: axes`);
  for (const [list, name] of [[m.exclude, 'exclude'], [m.only, 'only'], [m.include, 'include']] as const)
    list.forEach((f: CellFilter, i: number) => checkNames(f.capabilities ?? {}, f.parameters ?? {}, `${source}: ${name}[${i}]`));
  return m;
}

function describeKeys(path: PropertyKey[]): string[] {
  if (path.length === 0) return ['name', 'description', 'axes', 'exclude', 'only', 'include', 'workload'];
  if (path[0] === 'axes') return ['arch', 'transport', 'qemu', 'capabilities', 'parameters'];
  if (path[0] === 'workload') return ['mib', 'rateMiBs'];
  return ['arch', 'transport', 'qemu', 'capabilities', 'parameters'];
}

function checkNames(caps: Record<string, unknown>, params: Record<string, unknown>, where: string): void {
  for (const c of Object.keys(caps))
    if (!(KNOWN_CAPABILITIES as readonly string[]).includes(c))
      throw new ConfigError(`${where}.capabilities.${c}`, 'unknown capability', KNOWN_CAPABILITIES);
  for (const [p, v] of Object.entries(params)) {
    const type = KNOWN_PARAMETERS[p];
    if (!type) throw new ConfigError(`${where}.parameters.${p}`, 'unknown parameter', Object.keys(KNOWN_PARAMETERS));
    for (const [i, value] of (Array.isArray(v) ? v : [v]).entries()) {
      const field = `${where}.parameters.${p}${Array.isArray(v) ? `[${i}]` : ''}`;
      if (type === 'boolean') {
        if (typeof value !== 'boolean') throw new ConfigError(field, `${JSON.stringify(value)} is not a boolean`, ['true', 'false']);
      } else if (Array.isArray(type)) {
        if (!type.includes(value as string)) throw new ConfigError(field, `${JSON.stringify(value)}`, type);
      } else {
        const r = type as IntRange;
        if (!Number.isSafeInteger(value) || (value as number) < r.min || (value as number) > r.max) throw new ConfigError(field, `${JSON.stringify(value)}`, `an integer from ${r.min} to ${r.max}`);
      }
    }
  }
}
