import { execaSync } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../util/paths.js';

/** migtest's version (package.json) and the commit it runs from, when it runs from a git checkout. */
export function migtestVersion(): { version: string; commit?: string; dirty?: boolean } {
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const git = (...args: string[]) => execaSync('git', args, { cwd: repoRoot, reject: false });
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (head.exitCode !== 0) return { version };
  return { version, commit: String(head.stdout).trim(), dirty: String(git('status', '--porcelain', '--untracked-files=no').stdout).trim() !== '' };
}

export function versionLine(): string {
  const v = migtestVersion();
  return `migtest ${v.version}${v.commit ? ` (commit ${v.commit}${v.dirty ? ', with uncommitted changes' : ''})` : ''}`;
}
