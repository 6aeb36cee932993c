#!/usr/bin/env node
// Entry point. The harness is TypeScript without a build step: a start bundles the CLI once
// (esbuild, the compiler tsx runs on) into node_modules/.migtest/, keyed by every harness
// source's size and mtime, and loads that: 0.35 s to a prompt instead of 1 s through tsx's
// loader, which every `migtest` command pays. Anything wrong with the bundle falls back to tsx;
// MIGTEST_NO_BUNDLE=1 always uses tsx.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'harness/cli/main.ts');

/** The bundle for the sources as they are now, built if missing; undefined if it cannot be. */
async function bundle() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs|json)$/.test(e.name) && !e.name.endsWith('.test.ts')) {
        const s = statSync(p);
        h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  walk(join(root, 'harness'));
  for (const f of ['package.json', 'bin/migtest.mjs']) h.update(`${f}\0${statSync(join(root, f)).mtimeMs}\n`);
  // Two levels below the repository, as harness/util/paths.ts is: its repoRoot stays right.
  const dir = join(root, 'node_modules/.migtest');
  const file = join(dir, `cli-${h.digest('hex').slice(0, 16)}.mjs`);
  if (existsSync(file)) return file;
  const { build } = await import('esbuild');
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: tmp, logLevel: 'silent' });
  // Written whole under a temporary name, then renamed: CLIs starting at once share it.
  renameSync(tmp, file);
  for (const old of readdirSync(dir)) if (old.startsWith('cli-') && join(dir, old) !== file && !old.endsWith('.tmp')) rmSync(join(dir, old), { force: true });
  return file;
}

// A checkout without its npm dependencies: say what to run instead of Node's stack trace.
if (!existsSync(join(root, 'node_modules/tsx/package.json'))) {
  process.stderr.write(`migtest: the npm dependencies are not installed in ${root}; run \`npm ci\` there (or the README's set-up line, \`bash ci/setup.sh\`)\n`);
  process.exit(2);
}

const bundled = process.env.MIGTEST_NO_BUNDLE === '1' ? undefined : await bundle().catch(() => undefined);
if (bundled) await import(pathToFileURL(bundled).href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
}
