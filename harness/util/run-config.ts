import { homedir } from 'node:os';
import { join } from 'node:path';
import { ACCEL_CHOICES, ARCHES, parseArch, parseFirmware, parseImageChoice, parseLiveness, type AccelChoice, type Arch, type FirmwareKind, type LivenessSource, type Profile } from './arch.js';
import { ConfigError } from './errors.js';

/**
 * Everything a run is configured by, parsed once from the environment (the CLI writes it
 * there for its vitest workers). Nothing else in the harness reads a MIGTEST_* setting
 * (two internal markers between the runner and its helpers aside: the accelerator
 * announcement and the watchdog child).
 */
export interface RunConfig {
  /** MIGTEST_ARCHES (migtest run --arch): the arches this run covers. */
  arches: Arch[];
  /**
   * QEMU for a VM that names none, per side: a version label ("7.2", "system"), a binary's
   * path or a build directory; undefined for the system QEMU. MIGTEST_QEMU (migtest run
   * --qemu) sets both; MIGTEST_QEMU_SRC / MIGTEST_QEMU_DST (--src-qemu / --dst-qemu) one side.
   * QEMU's own QTEST_QEMU_BINARY_SRC / _DST (and QTEST_QEMU_BINARY for both) are honoured
   * below them, so a qtest habit works unchanged.
   */
  qemu: { src?: string; dst?: string };
  /** MIGTEST_ACCEL (migtest run --accel). */
  accel: AccelChoice;
  /** MIGTEST_IMAGE (migtest run --image): the built-in image every VM boots (default: default)... */
  imageProfile: Profile;
  /** ...or the user's own disk image file (each pair boots an overlay of it, never written). */
  imageFile?: string;
  /** MIGTEST_FIRMWARE (migtest run --firmware): what boots every VM of the run (default bios). */
  firmware: FirmwareKind;
  /** MIGTEST_LIVENESS (migtest run --liveness): the heartbeat (default), or the guest agent polled for a guest without it. */
  liveness: LivenessSource;
  /** MIGTEST_TIME_SCALE: every deadline, passed or default, is multiplied by it. */
  timeScale: number;
  /** MIGTEST_QUIET=1: no progress lines. */
  quiet: boolean;
  /** MIGTEST_MATRIX: the capability matrix preset or file (default "default"). */
  matrix: string;
  /** MIGTEST_COMPAT: the compatibility grid preset or file (default "smoke"). */
  compatGrid: string;
  /** MIGTEST_KERNEL, MIGTEST_INITRD, MIGTEST_DISK: the user's own image (all three or none). */
  image?: { kernel: string; initrd: string; disk: string };
  /** MIGTEST_CACHE (else $XDG_CACHE_HOME/migtest): images, fetched QEMUs, probes. */
  cacheDir: string;
  /** MIGTEST_STATE: the registry of process groups the reaper reads. */
  stateDir: string;
  /** MIGTEST_ARTIFACTS: where run directories go (default: artifacts/ in the repository). */
  artifactsRoot?: string;
  /**
   * MIGTEST_SNAPSHOT_CACHE_GIB (default 12): the saved ready guests kept, in GiB, least recently
   * used dropped first. A whole `npm test` uses ~170 configurations at ~60 MiB each: a cache
   * smaller than that boots (twice, the second saving) what it dropped, on every run.
   */
  snapshotCacheBytes: number;
  /** MIGTEST_NO_BUNDLE=1: bin/migtest.mjs runs the CLI through tsx, not its bundle (read there; checked here). */
  noBundle: boolean;
  /** MIGTEST_NO_WATCHDOG=1: no watchdog process (the reaper suite needs true orphans). */
  watchdog: boolean;
  /**
   * Snapshot start (default on): a VM whose configuration booted before starts from the saved
   * ready guest instead of booting. MIGTEST_FRESH_BOOT=1 (migtest run --fresh-boot) turns it off.
   */
  snapshotStart: boolean;
  /**
   * MIGTEST_JOBS (migtest run --jobs): end-to-end suite files run at once (default 1). Each
   * file runs its own QEMU pairs; on 2 cores under TCG more than 2 starve each other.
   */
  jobs: number;
  /** MIGTEST_HOSTS (migtest run --hosts): a hosts file; sources and destinations run on its hosts. */
  hosts?: string;
  /** MIGTEST_RUN_DIR: this run's artifacts directory, shared by the runner and its workers (made on first use). */
  runDir?: string;
  /** MIGTEST_KEEP_ARTIFACTS=1 (migtest run --keep-artifacts): a passing scenario keeps its disk images too. */
  keepArtifacts: boolean;
  /** MIGTEST_LIST_ONLY=1 (migtest run --list): vitest only collects the scenarios; nothing is reaped or created. */
  listOnly: boolean;
  /** MIGTEST_DEBUG=1: an error the CLI reports comes with its stack (the CLI reads the variable itself; checked here). */
  debug: boolean;
}

type Env = Record<string, string | undefined>;

function optional(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** A 0/1 switch; anything else is refused, naming the variable (yes, true and on are not guessed at). */
function flag(env: Env, name: string): boolean {
  const v = optional(env, name);
  if (v === undefined || v === '0') return false;
  if (v === '1') return true;
  throw new ConfigError(name, `'${v}'`, ['1 (on)', '0 or unset (off)']);
}

/** Suite files at once: 1 to 8. */
export function parseJobs(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new ConfigError(field, `'${text}'`, 'an integer from 1 to 8');
  return n;
}

/** Parses the environment; a bad value names the variable and what it takes. */
export function parseRunConfig(env: Env = process.env): RunConfig {
  const arches = optional(env, 'MIGTEST_ARCHES')?.split(',').map((a) => parseArch(a, 'MIGTEST_ARCHES')) ?? [...ARCHES];
  const accel = optional(env, 'MIGTEST_ACCEL') ?? 'auto';
  if (!(ACCEL_CHOICES as readonly string[]).includes(accel)) throw new ConfigError('MIGTEST_ACCEL', `'${accel}'`, ACCEL_CHOICES);
  const scaleText = optional(env, 'MIGTEST_TIME_SCALE') ?? '1';
  const timeScale = Number(scaleText);
  // Up to 100: beyond that a deadline outlives any run (and a typo like 1e9 hangs CI for days).
  if (!Number.isFinite(timeScale) || timeScale <= 0 || timeScale > 100) throw new ConfigError('MIGTEST_TIME_SCALE', `'${scaleText}'`, 'a number > 0 and <= 100 (e.g. 2 on a slow machine)');
  const firmware = parseFirmware('MIGTEST_FIRMWARE', optional(env, 'MIGTEST_FIRMWARE') ?? 'bios');
  const imageChoice = parseImageChoice('MIGTEST_IMAGE', optional(env, 'MIGTEST_IMAGE') ?? 'default');
  const both = optional(env, 'MIGTEST_QEMU');
  const jobs = parseJobs(optional(env, 'MIGTEST_JOBS') ?? '1', 'MIGTEST_JOBS');
  const [kernel, initrd, disk] = ['MIGTEST_KERNEL', 'MIGTEST_INITRD', 'MIGTEST_DISK'].map((n) => optional(env, n));
  if ((kernel || initrd || disk) && !(kernel && initrd && disk))
    throw new ConfigError('MIGTEST_KERNEL/MIGTEST_INITRD/MIGTEST_DISK', 'set all three or none', 'paths to a kernel, an initrd and a root disk');
  const gibText = optional(env, 'MIGTEST_SNAPSHOT_CACHE_GIB') ?? '12';
  const gib = Number(gibText);
  if (!Number.isFinite(gib) || gib < 0 || gib > 1024) throw new ConfigError('MIGTEST_SNAPSHOT_CACHE_GIB', `'${gibText}'`, 'a number of GiB >= 0 and <= 1024 (0 keeps none)');
  const cacheDir = optional(env, 'MIGTEST_CACHE') ?? join(optional(env, 'XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'migtest');
  return {
    arches,
    qemu: {
      src: optional(env, 'MIGTEST_QEMU_SRC') ?? both ?? optional(env, 'QTEST_QEMU_BINARY_SRC') ?? optional(env, 'QTEST_QEMU_BINARY'),
      dst: optional(env, 'MIGTEST_QEMU_DST') ?? both ?? optional(env, 'QTEST_QEMU_BINARY_DST') ?? optional(env, 'QTEST_QEMU_BINARY'),
    },
    accel: accel as AccelChoice,
    firmware,
    liveness: parseLiveness('MIGTEST_LIVENESS', optional(env, 'MIGTEST_LIVENESS') ?? 'heartbeat'),
    imageProfile: imageChoice.profile ?? 'default',
    imageFile: imageChoice.file,
    timeScale,
    quiet: flag(env, 'MIGTEST_QUIET'),
    matrix: optional(env, 'MIGTEST_MATRIX') ?? 'default',
    compatGrid: optional(env, 'MIGTEST_COMPAT') ?? 'smoke',
    image: kernel && initrd && disk ? { kernel, initrd, disk } : undefined,
    cacheDir,
    stateDir: optional(env, 'MIGTEST_STATE') ?? join(cacheDir, 'state'),
    artifactsRoot: optional(env, 'MIGTEST_ARTIFACTS'),
    watchdog: !flag(env, 'MIGTEST_NO_WATCHDOG'),
    noBundle: flag(env, 'MIGTEST_NO_BUNDLE'),
    snapshotCacheBytes: Math.round(gib * 2 ** 30),
    snapshotStart: !flag(env, 'MIGTEST_FRESH_BOOT'),
    jobs,
    runDir: optional(env, 'MIGTEST_RUN_DIR'),
    hosts: optional(env, 'MIGTEST_HOSTS'),
    listOnly: env.MIGTEST_LIST_ONLY === '1',
    keepArtifacts: flag(env, 'MIGTEST_KEEP_ARTIFACTS'),
    debug: flag(env, 'MIGTEST_DEBUG'),
  };
}

let current: RunConfig | undefined;

/** The run's configuration, parsed on first use. */
export function runConfig(): RunConfig {
  current ??= parseRunConfig();
  return current;
}

/**
 * Sets parts of the run's configuration for this process and the workers it starts (the
 * CLI after parsing its options): written to the environment they inherit, then re-parsed.
 */
export function configureRun(settings: { arches?: Arch[]; qemu?: string; qemuSrc?: string; qemuDst?: string; accel?: AccelChoice; firmware?: FirmwareKind; liveness?: LivenessSource; image?: string; matrix?: string; compatGrid?: string; runDir?: string; freshBoot?: boolean; jobs?: number; hosts?: string; keepArtifacts?: boolean }): RunConfig {
  const set = (name: string, v: string | undefined) => {
    if (v !== undefined) process.env[name] = v;
  };
  set('MIGTEST_ARCHES', settings.arches?.join(','));
  set('MIGTEST_QEMU', settings.qemu);
  set('MIGTEST_QEMU_SRC', settings.qemuSrc);
  set('MIGTEST_QEMU_DST', settings.qemuDst);
  set('MIGTEST_ACCEL', settings.accel);
  set('MIGTEST_FIRMWARE', settings.firmware);
  set('MIGTEST_IMAGE', settings.image);
  set('MIGTEST_LIVENESS', settings.liveness);
  set('MIGTEST_MATRIX', settings.matrix);
  set('MIGTEST_COMPAT', settings.compatGrid);
  set('MIGTEST_RUN_DIR', settings.runDir);
  set('MIGTEST_FRESH_BOOT', settings.freshBoot === undefined ? undefined : settings.freshBoot ? '1' : '0');
  set('MIGTEST_JOBS', settings.jobs === undefined ? undefined : String(settings.jobs));
  set('MIGTEST_HOSTS', settings.hosts);
  set('MIGTEST_KEEP_ARTIFACTS', settings.keepArtifacts ? '1' : undefined);
  return reloadRunConfig();
}

/** Parses the environment again (after a tool such as the benchmark changed it on purpose). */
export function reloadRunConfig(): RunConfig {
  current = parseRunConfig();
  return current;
}
