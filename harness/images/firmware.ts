import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { privateDir } from '../util/privdir.js';
import { join } from 'node:path';
import { cacheDir, onPath } from '../util/paths.js';
import { MigtestError, SkipError } from '../util/errors.js';
import type { Arch } from '../util/arch.js';

export { FIRMWARES, parseFirmware, type FirmwareKind } from '../util/arch.js';
import type { FirmwareKind } from '../util/arch.js';

/** The pflash images of a UEFI firmware: read-only code and the template each VM copies its variable store from. */
export interface UefiFirmware {
  kind: Exclude<FirmwareKind, 'bios'>;
  code: string;
  varsTemplate: string;
  /** Secure Boot enforced: x86_64 runs the firmware's SMM variable driver (-machine smm=on, secure pflash). */
  secure: boolean;
}

/**
 * Which keys a Secure Boot variable store enrolls. `snakeoil`: Debian's test key, whose private
 * half the ovmf package ships, so the harness signs the kernel it loads (the default image).
 * `microsoft`: Microsoft's, as a machine ships: what a distribution's signed shim, booted from
 * its own disk (the system image, a disk of your own), is signed for.
 */
export type SecureBootKeys = 'snakeoil' | 'microsoft';

/** A guest booted from its own disk boots its distribution's shim: the store a machine ships with. */
export const secureBootKeys = (bootsFromDisk: boolean): SecureBootKeys => (bootsFromDisk ? 'microsoft' : 'snakeoil');

/** Debian's packages (ovmf, qemu-efi-aarch64; ci/setup.sh installs them). */
const FILES: Record<Arch, Record<UefiFirmware['kind'], { code: string; vars: string; pkg: string }> & { msVars: string }> = {
  x86_64: {
    uefi: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd', pkg: 'ovmf' },
    'uefi-secure': { code: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd', pkg: 'ovmf' },
    msVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
  },
  aarch64: {
    uefi: { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' },
    'uefi-secure': { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.snakeoil.fd', pkg: 'qemu-efi-aarch64' },
    msVars: '/usr/share/AAVMF/AAVMF_VARS.ms.fd',
  },
};

/** The test key the snakeoil variable stores trust (from the ovmf package; its README.Debian gives the passphrase). */
export const SNAKEOIL = { key: '/usr/share/ovmf/PkKek-1-snakeoil.key', cert: '/usr/share/ovmf/PkKek-1-snakeoil.pem', passphrase: 'snakeoil' };

/**
 * The firmware files for `kind` on `arch`, each checked; undefined for bios. Under uefi-secure,
 * `keys` chooses the variable store (snakeoil: the harness signs the kernel, and its tools are checked).
 */
export function uefiFirmware(arch: Arch, kind: FirmwareKind, keys: SecureBootKeys = 'snakeoil'): UefiFirmware | undefined {
  if (kind === 'bios') return undefined;
  const f = FILES[arch][kind];
  const signs = kind === 'uefi-secure' && keys === 'snakeoil';
  const vars = kind === 'uefi-secure' && keys === 'microsoft' ? FILES[arch].msVars : f.vars;
  // The snakeoil key ships in the ovmf package on every arch.
  const files: Array<[string, string]> = [[f.code, f.pkg], [vars, f.pkg], ...(signs ? ([[SNAKEOIL.key, 'ovmf'], [SNAKEOIL.cert, 'ovmf']] as Array<[string, string]>) : [])];
  for (const [file, pkg] of files)
    if (!existsSync(file)) throw new SkipError(`firmware ${kind} for ${arch}: ${file} is missing (install Debian's ${pkg} package; ci/setup.sh does)`);
  // What signs the guest's kernel for it, checked now so a run refuses before anything starts.
  if (signs)
    for (const [tool, pkg] of [['openssl', 'openssl'], ['sbsign', 'sbsigntool'], ['sbattach', 'sbsigntool']] as const)
      if (!onPath(tool)) throw new SkipError(`firmware ${kind} for ${arch}: ${tool} is missing, needed to sign the guest's kernel (install Debian's ${pkg} package; ci/setup.sh does)`);
  return { kind, code: f.code, varsTemplate: vars, secure: kind === 'uefi-secure' };
}


/**
 * The kernel signed with the snakeoil key (its distribution signature removed first), made
 * once beside the harness's cache and kept while the kernel file is unchanged: what a
 * Secure Boot firmware with the snakeoil store will load.
 */
export async function snakeoilSignedKernel(kernel: string): Promise<string> {
  const s = statSync(kernel);
  const dir = join(cacheDir(), 'signed-kernels');
  const out = join(dir, `${kernel.replace(/[^A-Za-z0-9]+/g, '_').slice(-80)}-${s.size}-${Math.floor(s.mtimeMs)}.efi`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  // The key decrypted only into a private (0700) directory, removed after; the signed kernel
  // is written under a temporary name, then renamed: runs starting at once may both sign it.
  const work = await privateDir('sign');
  const [key, unsigned, tmp] = [join(work.path, 'key.pem'), join(work.path, 'kernel.efi'), `${out}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`];
  try {
    const tool = async (argv: string[]) => {
      // No terminal to ask: a tool that wants a passphrase fails instead of waiting for one.
      const r = await execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', timeout: 120_000 });
      if (r.code === 'ENOENT') throw new SkipError(`firmware uefi-secure: ${argv[0]} is missing, needed to sign the guest's kernel (install Debian's ${argv[0] === 'openssl' ? 'openssl' : 'sbsigntool'}; ci/setup.sh does)`);
      if (r.exitCode !== 0 && argv[0] !== 'sbattach') throw new MigtestError(`firmware uefi-secure: ${argv.join(' ')} failed: ${String(r.stderr).trim().split('\n')[0]}`);
      return r;
    };
    await tool(['openssl', 'pkey', '-in', SNAKEOIL.key, '-passin', `pass:${SNAKEOIL.passphrase}`, '-out', key]);
    copyFileSync(kernel, unsigned);
    // Debian's kernel carries Debian's signature, which sbsign will not sign over; an unsigned one makes sbattach fail harmlessly.
    await tool(['sbattach', '--remove', unsigned]);
    await tool(['sbsign', '--key', key, '--cert', SNAKEOIL.cert, '--output', tmp, unsigned]);
    renameSync(tmp, out);
    return out;
  } finally {
    rmSync(tmp, { force: true });
    await work.cleanup();
  }
}
