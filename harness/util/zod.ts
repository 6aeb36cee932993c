import type { ZodIssue } from 'zod';
import { ConfigError } from './errors.js';

/**
 * A schema's first complaint as a ConfigError naming the field (`axes.transport[1]`) and
 * what is allowed: the enum's options, or for an unknown key the keys `keysAt` allows there.
 */
export function configErrorFrom(issue: ZodIssue, source: string, keysAt: (path: PropertyKey[]) => readonly string[]): ConfigError {
  const field = issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(top level)';
  const allowed = 'options' in issue ? (issue.options as string[]) : issue.code === 'unrecognized_keys' ? keysAt(issue.path) : undefined;
  return new ConfigError(`${source}: ${field}`, issue.message, allowed);
}
