import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';

import { kernelAppend, type Arch } from '../util/arch.js';

export const DEB_ARCH: Record<Arch, string> = { x86_64: 'amd64', aarch64: 'arm64' };

const recipeSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  suite: z.string(),
  /** kernel: the host loads kernel and initramfs (-kernel); firmware: SeaBIOS or UEFI boots GRUB from the image's own disk. */
  boot: z.enum(['kernel', 'firmware']).default('kernel'),
  kernelPackage: z.object({ x86_64: z.string(), aarch64: z.string() }),
  packages: z.array(z.string()),
  /** Packages whose GRUB modules the builder takes (firmware boot); not kept in the root. */
  bootloaderPackages: z.object({ x86_64: z.array(z.string()), aarch64: z.array(z.string()) }).optional(),
  initramfsModules: z.array(z.string()),
  prune: z.array(z.string()).default([]),
  guestFiles: z.record(z.string()),
  initramfsInit: z.string(),
});
export type Recipe = z.infer<typeof recipeSchema> & { dir: string };

/** Bump when the builder changes what it produces from the same recipe. */
const BUILDER_VERSION = '1';
/** The same for the firmware-booted disk (GRUB, partitions, systemd configuration); a kernel-booted image's key leaves it out. */
const DISK_BUILDER_VERSION = '3';

export function loadRecipe(name = 'default'): Recipe {
  const dir = join(repoRoot, 'images', name);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'recipe.json'), 'utf8'));
  } catch (e) {
    throw new ConfigError('image', `no readable recipe images/${name}/recipe.json (${(e as Error).message})`);
  }
  const parsed = recipeSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ConfigError(`images/${name}/recipe.json: ${i.path.join('.')}`, i.message);
  }
  return { ...parsed.data, dir };
}

export { PROFILES, parseProfile, type Profile } from '../util/arch.js';

/** The cache key: every file of the recipe directory and every guest file it takes from elsewhere, the arch and the builder version. */
export function recipeHash(recipe: Recipe, arch: Arch): string {
  const h = createHash('sha256').update(`${BUILDER_VERSION}\0${arch}\0`);
  // The disk's GRUB carries the kernel's command line: a change to it is a new image.
  if (recipe.boot === 'firmware') h.update(`disk ${DISK_BUILDER_VERSION}\0${kernelAppend(arch)}\0`);
  for (const f of readdirSync(recipe.dir).sort()) h.update(f).update('\0').update(readFileSync(join(recipe.dir, f)));
  for (const f of Object.keys(recipe.guestFiles).filter((f) => f.includes('/')).sort()) h.update(f).update('\0').update(readFileSync(join(recipe.dir, f)));
  return h.digest('hex').slice(0, 16);
}
