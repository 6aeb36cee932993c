import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './util/paths.js';

// The documentation stays true: its code compiles, its recipes parse and plan, its links and
// tables of contents hold, and the README stays a first-five-minutes page.
const pages = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
const text = (page: string) => readFileSync(join(repoRoot, page), 'utf8');
/** The fenced blocks of a language in a page. */
const blocks = (page: string, lang: string) => [...text(page).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
/** GitHub's anchor for a heading. */
const anchor = (h: string) => h.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

describe('docs', () => {
  it('README is a first-five-minutes page: at most 300 lines, with the two set-up commands', () => {
    const readme = text('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    expect(readme).toContain('bash ci/setup.sh && node bin/migtest.mjs run precopy-basic');
    expect(readme).toMatch(/\nnpm test\n/);
  });

  it('every docs page has a table of contents naming each of its sections', () => {
    for (const page of pages.filter((p) => p.startsWith('docs/'))) {
      const t = text(page);
      expect(t, page).toMatch(/\n## Contents\n/);
      const sections = [...t.matchAll(/^## (.+)$/gm)].map((m) => m[1]!).filter((h) => h !== 'Contents');
      for (const s of sections) expect(t, `${page}: no contents entry for "${s}"`).toContain(`](#${anchor(s)})`);
    }
  });

  it('every relative link points at a file that exists, and at a heading it has', () => {
    const broken: string[] = [];
    for (const page of pages)
      for (const m of text(page).matchAll(/\]\((?!https?:|mailto:)([^)#\s]*)(?:#([^)\s]+))?\)/g)) {
        const target = m[1] ? resolve(dirname(join(repoRoot, page)), m[1]) : join(repoRoot, page);
        if (!existsSync(target)) broken.push(`${page}: ${m[0]}`);
        else if (m[2] && target.endsWith('.md') && ![...readFileSync(target, 'utf8').matchAll(/^#+ (.+)$/gm)].some((h) => anchor(h[1]!) === m[2])) broken.push(`${page}: ${m[0]} (no such heading)`);
      }
    expect(broken).toEqual([]);
  });

  it('every TypeScript example compiles, as a file in suites/ would', async () => {
    const dir = mkdtempSync(join(repoRoot, '.docs-check-'));
    try {
      const files: string[] = [];
      for (const page of pages)
        blocks(page, 'ts').forEach((code, i) => {
          const f = join(dir, `${page.replace(/[/.]/g, '_')}_${i + 1}.ts`);
          writeFileSync(f, code);
          files.push(f);
        });
      expect(files.length).toBeGreaterThan(5);
      // Beside suites/: '../harness/index.js' resolves the same way.
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', include: ['*.ts'], compilerOptions: { noUnusedLocals: false } }));
      const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
      const r = await execa(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { reject: false });
      expect(r.exitCode, r.stdout.replaceAll(dir, 'docs-example')).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('every "How do I" recipe is a command that exists, and every run in it plans (--dry-run) on this machine', async () => {
    const fixtures = mkdtempSync(join(tmpdir(), 'migtest-recipes-'));
    try {
      // Stand-ins for what a user has: a QEMU build directory (the installed binary in it), a matrix file (the page's own).
      const build = join(fixtures, 'build');
      mkdirSync(join(build, 'pc-bios'), { recursive: true });
      writeFileSync(join(build, 'build.ninja'), '');
      const which = await execa('sh', ['-c', 'command -v qemu-system-x86_64'], { reject: false });
      symlinkSync(which.stdout.trim() || '/usr/bin/qemu-system-x86_64', join(build, 'qemu-system-x86_64'));
      const matrix = join(fixtures, 'my.yaml');
      writeFileSync(matrix, blocks('docs/how-do-i.md', 'yaml')[0] ?? '');
      const subst = (line: string) => line.replaceAll('~/src/qemu/build', build).replaceAll('my.yaml', matrix);
      const lines = blocks('docs/how-do-i.md', 'sh').flatMap((b) => b.split('\n')).map((l) => l.trim()).filter((l) => l.startsWith('node bin/migtest.mjs '));
      expect(lines.length).toBeGreaterThan(10);
      const failures: string[] = [];
      for (const line of lines) {
        const words = subst(line).replace(/^node bin\/migtest\.mjs /, '').match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"|"$/g, ''));
        // Runs are planned (nothing starts) or listed (--list creates nothing, and --dry-run with it is refused); the rest must be commands migtest has (--help), except what only lists.
        const planned = words[0] === 'run' && words.includes('--list') ? words : words[0] === 'run' && !words.includes('--hosts') ? [...words.filter((w) => w !== '--dry-run'), '--dry-run'] : words[0] === 'qemu' && words[1] === 'list' ? words : [...words.slice(0, words[0] === 'qemu' || words[0] === 'hosts' ? 2 : 1), '--help'];
        const r = await execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), ...planned], { cwd: repoRoot, reject: false, env: { MIGTEST_QUIET: '1' } });
        if (r.exitCode !== 0) failures.push(`${line}\n  -> ${planned.join(' ')}: exit ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      }
      expect(failures).toEqual([]);
    } finally {
      rmSync(fixtures, { recursive: true, force: true });
    }
  }, 300_000);
});
