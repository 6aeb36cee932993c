import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { cacheDir } from '../util/paths.js';
import { moduleClosure, parseModulesDep } from './modules.js';
import { DEB_ARCH, loadRecipe, recipeHash, type Recipe } from './recipe.js';
import { type Arch } from '../util/arch.js';

/** What a built image is: a kernel, an initramfs and a read-only root disk. */
export interface GuestImage {
  arch: Arch;
  name: string;
  hash: string;
  kernel: string;
  initrd: string;
  rootDisk: string;
  rootFormat: 'qcow2' | 'raw';
  kernelVersion: string;
  /** Seconds the build took, when it was built rather than found in the cache. */
  builtSeconds?: number;
}

export class ImageBuildError extends MigtestError {}

export function imageDir(recipe: Recipe, arch: Arch): string {
  return join(cacheDir(), 'images', `${recipe.name}-${arch}-${recipeHash(recipe, arch)}`);
}

/** Returns the cached image for this recipe and arch, or undefined if it must be built. */
export function findImage(arch: Arch, name = 'default'): GuestImage | undefined {
  const dir = imageDir(loadRecipe(name), arch);
  const manifest = join(dir, 'manifest.json');
  if (!existsSync(manifest)) return undefined;
  return JSON.parse(readFileSync(manifest, 'utf8')) as GuestImage;
}

async function run(step: string, file: string, args: string[], opts: { input?: string; cwd?: string } = {}) {
  const r = await execa(file, args, { reject: false, all: true, input: opts.input, cwd: opts.cwd });
  if (r.exitCode !== 0)
    throw new ImageBuildError(`image build step '${step}' failed: ${file} ${args.join(' ')}\n${r.all?.slice(-3000)}`);
  return r;
}

/** Builds (or finds) the image: cached by a hash of the recipe, rebuilt only when it changes. */
export async function buildImage(arch: Arch, opts: { name?: string; force?: boolean } = {}): Promise<GuestImage> {
  const recipe = loadRecipe(opts.name ?? 'default');
  const outDir = imageDir(recipe, arch);
  if (!opts.force) {
    const cached = findImage(arch, recipe.name);
    if (cached) return cached;
  }
  const started = Date.now();
  mkdirSync(dirname(outDir), { recursive: true });
  const work = `${outDir}.build-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const root = join(work, 'root');
    progress(`image ${recipe.name}/${arch}: mmdebstrap ${recipe.suite} (${DEB_ARCH[arch]})`);
    // extract: unpack packages and their dependencies, run nothing: no emulation needed for arm64.
    await run('mmdebstrap', 'mmdebstrap', [
      '--variant=extract',
      `--arch=${DEB_ARCH[arch]}`,
      `--include=${[recipe.kernelPackage[arch], ...recipe.packages].join(',')}`,
      '--quiet',
      recipe.suite,
      root,
    ]);
    const kver = readdirSync(join(root, 'lib/modules'))[0];
    if (!kver) throw new ImageBuildError(`no kernel modules under ${root}/lib/modules`);
    await run('depmod', 'depmod', ['-b', root, kver]);

    copyFileSync(join(root, 'boot', `vmlinuz-${kver}`), join(work, 'vmlinuz'));
    progress(`image ${recipe.name}/${arch}: initramfs for kernel ${kver}`);
    await buildInitramfs(recipe, root, kver, join(work, 'initrd.img'));

    progress(`image ${recipe.name}/${arch}: root filesystem`);
    for (const [src, dest] of Object.entries(recipe.guestFiles)) {
      const target = join(root, dest);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(recipe.dir, src), target);
      chmodSync(target, 0o755);
    }
    for (const p of recipe.prune) rmSync(join(root, p), { recursive: true, force: true });
    rmSync(join(root, 'boot'), { recursive: true, force: true });
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'var/lib']) mkdirSync(join(root, d), { recursive: true });
    const usedMiB = Number((await run('du', 'du', ['-sm', root])).stdout.split('\t')[0]);
    const raw = join(work, 'root.raw');
    await run('mkfs.ext4', 'mkfs.ext4', ['-q', '-F', '-L', 'migtest-root', '-d', root, raw, `${Math.ceil(usedMiB * 1.3 + 64)}M`]);
    await run('qemu-img', 'qemu-img', ['convert', '-O', 'qcow2', raw, join(work, 'root.qcow2')]);
    rmSync(raw);
    rmSync(root, { recursive: true, force: true });

    const image: GuestImage = {
      arch,
      name: recipe.name,
      hash: recipeHash(recipe, arch),
      kernel: join(outDir, 'vmlinuz'),
      initrd: join(outDir, 'initrd.img'),
      rootDisk: join(outDir, 'root.qcow2'),
      rootFormat: 'qcow2',
      kernelVersion: kver,
      builtSeconds: (Date.now() - started) / 1000,
    };
    writeFileSync(join(work, 'manifest.json'), JSON.stringify(image, null, 2));
    rmSync(outDir, { recursive: true, force: true });
    renameSync(work, outDir);
    pruneOldImages(outDir);
    progress(`image ${recipe.name}/${arch}: built in ${image.builtSeconds!.toFixed(1)}s -> ${outDir}`);
    return image;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/** Removes images of the same name and arch built from older recipes. */
function pruneOldImages(current: string): void {
  const dir = dirname(current);
  const prefix = basename(current).replace(/[0-9a-f]{16}$/, '');
  for (const name of readdirSync(dir))
    if (name.startsWith(prefix) && join(dir, name) !== current && /^[0-9a-f]{16}$/.test(name.slice(prefix.length)))
      rmSync(join(dir, name), { recursive: true, force: true });
}

async function buildInitramfs(recipe: Recipe, root: string, kver: string, out: string): Promise<void> {
  const stage = join(dirname(out), 'initramfs');
  const modDir = join(root, 'lib/modules', kver);
  const deps = parseModulesDep(readFileSync(join(modDir, 'modules.dep'), 'utf8'));
  const builtin = new Set(
    readFileSync(join(modDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((p) => p.split('/').pop()!.replace(/\.ko$/, '').replace(/-/g, '_')),
  );
  const { paths, missing } = moduleClosure(deps, recipe.initramfsModules, builtin);
  if (missing.length) throw new ImageBuildError(`kernel ${kver} has no module ${missing.join(', ')}`);
  for (const p of paths) {
    mkdirSync(dirname(join(stage, 'lib/modules', kver, p)), { recursive: true });
    copyFileSync(join(modDir, p), join(stage, 'lib/modules', kver, p));
  }
  const depLines = paths.map((p) => `${p}: ${(deps.get(p) ?? []).join(' ')}`.trimEnd());
  writeFileSync(join(stage, 'lib/modules', kver, 'modules.dep'), `${depLines.join('\n')}\n`);
  mkdirSync(join(stage, 'bin'), { recursive: true });
  mkdirSync(join(stage, 'etc'), { recursive: true });
  copyFileSync(join(root, 'bin/busybox'), join(stage, 'bin/busybox'));
  chmodSync(join(stage, 'bin/busybox'), 0o755);
  copyFileSync(join(recipe.dir, recipe.initramfsInit), join(stage, 'init'));
  chmodSync(join(stage, 'init'), 0o755);
  writeFileSync(join(stage, 'etc/migtest-modules'), `${recipe.initramfsModules.join('\n')}\n`);
  const files = listTree(stage);
  const cpio = await execa('cpio', ['--quiet', '-o', '-H', 'newc'], {
    cwd: stage,
    input: files.join('\n'),
    encoding: 'buffer',
  });
  writeFileSync(out, gzipSync(cpio.stdout as Uint8Array));
  rmSync(stage, { recursive: true, force: true });
}

function listTree(dir: string, prefix = '.'): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = `${prefix}/${name}`;
    out.push(rel);
    if (statSync(join(dir, rel)).isDirectory()) out.push(...listTree(dir, rel));
  }
  return out;
}
