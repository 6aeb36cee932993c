import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsRoot } from '../util/paths.js';
import { configureRun, runConfig } from '../util/run-config.js';

/** The current run's directory; the runner exports it so every worker writes beside it. */
export function runDir(): string {
  let dir = runConfig().runDir;
  if (!dir) {
    dir = join(artifactsRoot(), `run-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    configureRun({ runDir: dir });
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 120) || 'test';
}

/** A per-test directory holding argv, stderr, serial logs, QMP transcripts and stats. */
export class ArtifactDir {
  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
  }

  static forTest(name: string): ArtifactDir {
    return new ArtifactDir(join(runDir(), slug(name)));
  }

  file(name: string): string {
    return join(this.path, name);
  }

  writeJson(name: string, data: unknown): string {
    const p = this.file(name);
    writeFileSync(p, `${JSON.stringify(data, null, 2)}\n`);
    return p;
  }

  append(name: string, line: string): void {
    appendFileSync(this.file(name), `${line}\n`);
  }
}
