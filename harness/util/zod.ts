import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
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

/**
 * A YAML file read for a schema: one that is not a file, is empty, or is not YAML says so,
 * naming the file and (for a syntax error) the line, never as a stack trace.
 */
export function readYamlFile(file: string, what: string): unknown {
  let text: string;
  try {
    if (!statSync(file).isFile()) throw new ConfigError(`${what} ${file}`, 'is not a file', 'a YAML file');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${what} ${file}`, `cannot be read: ${(e as Error).message}`, 'a readable YAML file');
  }
  if (!text.trim()) throw new ConfigError(`${what} ${file}`, 'the file is empty', `a YAML ${what}`);
  try {
    return parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${what} ${file}`, `not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}
