import { execa } from 'execa';
import { closeSync, openSync, writeSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { cacheDir } from '../util/paths.js';
import { moduleClosure, parseModulesDep } from './modules.js';
import { DEB_ARCH, loadRecipe, recipeHash, type Recipe } from './recipe.js';
import { kernelAppend, type Arch } from '../util/arch.js';

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
  /** kernel: booted with -kernel/-initrd; firmware: the firmware boots GRUB from the root disk (kernel and initrd are copies of what it loads). */
  boot?: 'kernel' | 'firmware';
  /** The user's own disk image (--image FILE): booted through an overlay, never written. */
  user?: boolean;
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

async function run(step: string, file: string, args: string[], opts: { input?: string; cwd?: string; env?: Record<string, string> } = {}) {
  const r = await execa(file, args, { reject: false, all: true, input: opts.input, cwd: opts.cwd, env: opts.env });
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
    const loaders = recipe.boot === 'firmware' ? (recipe.bootloaderPackages?.[arch] ?? []) : [];
    await run('mmdebstrap', 'mmdebstrap', [
      '--variant=extract',
      `--arch=${DEB_ARCH[arch]}`,
      `--include=${[recipe.kernelPackage[arch], ...recipe.packages, ...loaders].join(',')}`,
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
      chmodSync(target, /\.(pl|sh)$/.test(src) ? 0o755 : 0o644);
    }
    for (const p of recipe.prune) rmSync(join(root, p), { recursive: true, force: true });
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'var/lib']) mkdirSync(join(root, d), { recursive: true });
    const raw = join(work, 'root.raw');
    if (recipe.boot === 'firmware') {
      await systemDisk(recipe, arch, root, work, raw);
    } else {
      rmSync(join(root, 'boot'), { recursive: true, force: true });
      await rootFilesystem(root, raw);
    }
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
      boot: recipe.boot,
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

/**
 * ext4's features pinned to bookworm's defaults, whatever the host's mke2fs.conf says: a newer
 * e2fsprogs turns on features (orphan_file, metadata_csum_seed) that bookworm's GRUB 2.06
 * cannot read, and the same recipe would make another filesystem on another host.
 */
const MKE2FS_CONF = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
	small = {
		blocksize = 1024
		inode_ratio = 4096
	}
	floppy = {
		blocksize = 1024
		inode_ratio = 8192
	}
`;

/** The root tree as an ext4 image (label migtest-root) with room to spare; returns its size in MiB. */
async function rootFilesystem(root: string, out: string): Promise<number> {
  const usedMiB = Number((await run('du', 'du', ['-sm', root])).stdout.split('\t')[0]);
  const sizeMiB = Math.ceil(usedMiB * 1.3 + 64);
  const conf = `${out}.mke2fs.conf`;
  writeFileSync(conf, MKE2FS_CONF);
  try {
    await run('mkfs.ext4', 'mkfs.ext4', ['-q', '-F', '-L', 'migtest-root', '-d', root, out, `${sizeMiB}M`], { env: { MKE2FS_CONFIG: conf } });
  } finally {
    rmSync(conf, { force: true });
  }
  return sizeMiB;
}

const MiB = 1024 * 1024;
const sectors = (mib: number) => (mib * MiB) / 512;
// The system disk's GPT: a BIOS boot partition (GRUB's core for SeaBIOS; unused on aarch64,
// kept so the root is the third partition on both arches), the ESP, the root filesystem.
const BIOS_BOOT = { start: 1, size: 1 };
const ESP = { start: 2, size: 30 };
const ROOT_START = 32;

/**
 * A firmware-booted system disk from the extracted root: configured for systemd without
 * running maintainer scripts (no emulation for arm64), GRUB for the ESP (and for SeaBIOS on
 * x86_64) from the image's own GRUB packages, all of it assembled in a file (no loop device).
 */
async function systemDisk(recipe: Recipe, arch: Arch, root: string, work: string, out: string): Promise<void> {
  progress(`image ${recipe.name}/${arch}: systemd configuration`);
  const etc = (p: string, text: string) => {
    mkdirSync(dirname(join(root, 'etc', p)), { recursive: true });
    writeFileSync(join(root, 'etc', p), text);
  };
  // What base-passwd's and systemd's maintainer scripts would have made.
  etc('passwd', readFileSync(join(root, 'usr/share/base-passwd/passwd.master'), 'utf8'));
  etc('group', readFileSync(join(root, 'usr/share/base-passwd/group.master'), 'utf8'));
  etc('shadow', '');
  etc('machine-id', '');
  etc('hostname', 'migtest\n');
  etc('fstab', '# the root is mounted by the initramfs (read-only, under a tmpfs overlay)\n');
  const link = (target: string, at: string) => {
    mkdirSync(dirname(join(root, at)), { recursive: true });
    rmSync(join(root, at), { force: true });
    symlinkSync(target, join(root, at));
  };
  link('/lib/systemd/system/multi-user.target', 'etc/systemd/system/default.target');
  // No login on the console (the image has no getty): the harness reaches the guest through its agent.
  for (const u of ['getty@.service', 'serial-getty@.service', 'getty.target']) link('/dev/null', `etc/systemd/system/${u}`);
  for (const d of ['media/root-ro', 'media/root-rw', 'var/log', 'var/tmp', 'root']) mkdirSync(join(root, d), { recursive: true });

  const kver = readdirSync(join(root, 'lib/modules'))[0]!;
  copyFileSync(join(root, 'boot', `vmlinuz-${kver}`), join(root, 'boot/vmlinuz'));
  copyFileSync(join(work, 'initrd.img'), join(root, 'boot/initrd.img'));
  const grubDir = join(root, 'usr/lib/grub');
  const cfg = [
    'set timeout=0',
    'search --no-floppy --label migtest-root --set=root',
    // Not quiet: systemd's status lines on the console say how far a boot got.
    `linux /boot/vmlinuz ${kernelAppend(arch).replace(/ ?\bquiet\b/, '')}`,
    'initrd /boot/initrd.img',
    'boot',
    '',
  ].join('\n');
  writeFileSync(join(work, 'grub.cfg'), cfg);
  const modules = ['part_gpt', 'ext2', 'search', 'search_label', 'linux', 'normal', 'configfile', 'echo', 'test'];

  progress(`image ${recipe.name}/${arch}: GRUB, ESP and disk`);
  // UEFI boots Debian's signed chain, as an installed Debian does: shim (signed by Microsoft) at
  // the removable-media path, which loads GRUB (signed by Debian) from beside it, which reads
  // its configuration from its prefix, /EFI/debian, and loads the kernel (signed by Debian).
  // Secure Boot or not, the same files boot; no fbx64.efi, so shim goes straight to GRUB.
  const efi = arch === 'x86_64' ? { shim: 'shimx64.efi', grub: 'grubx64.efi', dir: 'x86_64-efi-signed', boot: 'BOOTX64.EFI' } : { shim: 'shimaa64.efi', grub: 'grubaa64.efi', dir: 'arm64-efi-signed', boot: 'BOOTAA64.EFI' };
  const signed = { shim: join(root, 'usr/lib/shim', `${efi.shim}.signed`), grub: join(grubDir, efi.dir, `${efi.grub}.signed`) };
  for (const f of Object.values(signed)) if (!existsSync(f)) throw new ImageBuildError(`${f} is missing: the recipe's bootloader packages (shim-signed, grub-efi-*-signed) did not provide it`);
  const esp = join(work, 'esp.img');
  await run('mkfs.vfat', 'mkfs.vfat', ['-C', '-n', 'MIGTEST-ESP', esp, String(ESP.size * 1024)]);
  await run('mmd', 'mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT', '::/EFI/debian']);
  await run('mcopy', 'mcopy', ['-i', esp, signed.shim, `::/EFI/BOOT/${efi.boot}`]);
  await run('mcopy', 'mcopy', ['-i', esp, signed.grub, `::/EFI/BOOT/${efi.grub}`]);
  await run('mcopy', 'mcopy', ['-i', esp, join(work, 'grub.cfg'), '::/EFI/debian/grub.cfg']);
  const bios = arch === 'x86_64' ? join(work, 'bios') : undefined;
  if (bios) {
    mkdirSync(bios);
    copyFileSync(join(grubDir, 'i386-pc/boot.img'), join(bios, 'boot.img'));
    // The whole boot in GRUB's core (embedded config), which goes in the BIOS boot partition.
    // GRUB's own messages on the serial console too (under SeaBIOS it would print on VGA only):
    // a boot that fails in GRUB then says why in the VM's serial log.
    writeFileSync(join(bios, 'grub.cfg'), `serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\n${cfg}`);
    await run('grub-mkimage', 'grub-mkimage', ['-O', 'i386-pc', '-d', join(grubDir, 'i386-pc'), '-o', join(bios, 'core.img'), '-c', join(bios, 'grub.cfg'), '-p', '/boot/grub', 'biosdisk', 'serial', 'terminal', ...modules]);
  }
  // GRUB's modules and the signed images were for building; what boots is in the ESP and the BIOS boot partition.
  rmSync(grubDir, { recursive: true, force: true });
  rmSync(join(root, 'usr/lib/shim'), { recursive: true, force: true });

  const rootImg = join(work, 'rootfs.img');
  const rootMiB = await rootFilesystem(root, rootImg);
  const totalMiB = ROOT_START + rootMiB + 1; // one MiB for the backup GPT
  await run('truncate', 'truncate', ['-s', `${totalMiB}M`, out]);
  await run('sfdisk', 'sfdisk', ['--quiet', out], {
    input: [
      'label: gpt',
      `start=${sectors(BIOS_BOOT.start)}, size=${sectors(BIOS_BOOT.size)}, type=21686148-6449-6E6F-744E-656564454649, name=bios`,
      `start=${sectors(ESP.start)}, size=${sectors(ESP.size)}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp`,
      `start=${sectors(ROOT_START)}, size=${sectors(rootMiB)}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root`,
      '',
    ].join('\n'),
  });
  await run('dd esp', 'dd', [`if=${esp}`, `of=${out}`, 'bs=1M', `seek=${ESP.start}`, 'conv=notrunc,sparse', 'status=none']);
  await run('dd root', 'dd', [`if=${rootImg}`, `of=${out}`, 'bs=1M', `seek=${ROOT_START}`, 'conv=notrunc,sparse', 'status=none']);
  rmSync(rootImg);
  rmSync(esp);
  if (bios) biosBoot(out, join(bios, 'boot.img'), join(bios, 'core.img'));
  for (const f of [join(work, 'grub.cfg'), ...(bios ? [bios] : [])]) rmSync(f, { recursive: true, force: true });
}

/**
 * What grub-bios-setup does for a GPT disk, done on the file itself (grub-bios-setup wants
 * to probe the host's root device): GRUB's core in the BIOS boot partition, its first
 * sector's block list pointing at the rest; boot.img in the MBR's code area (the protective
 * partition table kept) pointing at the core.
 */
export function biosBoot(disk: string, bootImg: string, coreImg: string): void {
  const coreSector = sectors(BIOS_BOOT.start);
  const core = readFileSync(coreImg);
  if (core.length > BIOS_BOOT.size * MiB) throw new ImageBuildError(`GRUB's core (${core.length} bytes) does not fit the ${BIOS_BOOT.size} MiB BIOS boot partition`);
  // The block list (start: u64, len: u16, segment: u16) ends the core's first sector; grub-mkimage set len.
  core.writeBigUInt64LE(BigInt(coreSector + 1), 512 - 12);
  const boot = readFileSync(bootImg);
  boot.writeBigUInt64LE(BigInt(coreSector), 0x5c); // GRUB_BOOT_MACHINE_KERNEL_SECTOR
  boot[0x66] = 0x90; // GRUB_BOOT_MACHINE_DRIVE_CHECK: a hard disk, so trust the BIOS's drive number (two nops)
  boot[0x67] = 0x90;
  const fd = openSync(disk, 'r+');
  try {
    writeSync(fd, boot, 0, 440, 0); // up to the disk signature and partition table
    writeSync(fd, core, 0, core.length, BIOS_BOOT.start * MiB);
  } finally {
    closeSync(fd);
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
