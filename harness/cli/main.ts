import { reproCommand, type ReproOptions } from './repro.js';
import { mergeCommand } from './report.js';
import { registerHistory } from './history.js';
import { Command, CommanderError, Option } from 'commander';

/** Repeatable option: --arch x86_64 --arch aarch64 (or comma separated); an empty one is refused, never read as "every arch". */
const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((a) => parseArch(a.trim(), '--arch'))];
import { ARCHES, parseArch } from '../util/arch.js';
import { buildImage, findImage } from '../images/build.js';
import { PROFILES, parseProfile } from '../images/recipe.js';
import { findBinary, listBinaries, type QemuBinary } from '../qemu/catalog.js';
import { gridPresets } from '../compat/grid.js';
import { runCompat } from './compat.js';
import type { RunOptions } from './run.js';
import { FETCHABLE, fetchableSuite } from '../qemu/fetch.js';
import { ConfigError, MigtestError } from '../util/errors.js';
import { fetchAndVerify } from './qemu.js';
import { doctor, formatChecks } from './doctor.js';
import { runSuites } from './run.js';
import { reapAtStart } from '../testing/reaper.js';
import { availableSuites } from './suites.js';
import { hostsDown, hostsUp } from '../net/topology.js';
import { checkHosts } from '../host/run-hosts.js';
import { loadHostsFile } from '../host/hosts-file.js';
import { versionLine } from './version.js';
import { runConfig } from '../util/run-config.js';
import { bisectCommand, type BisectOptions } from './bisect.js';

// The environment first: a bad MIGTEST_* setting is bad input (exit 2, no stack trace) even
// when what reads it first runs while the commands are set up (a default shown in --help).
try {
  runConfig();
} catch (e) {
  fail(e);
  process.exit();
}

const program = new Command('migtest')
  .description('End-to-end tests of QEMU live migration on real QEMU pairs')
  .version(versionLine(), '-V, --version', 'print the migtest version and commit')
  // Commander's own refusals (an unknown option, a missing argument) are bad input: exit 2, below.
  .exitOverride();

program
  .command('doctor')
  .description('check prerequisites: QEMU versions, KVM usability, userfaultfd, vhost-net, nftables, images')
  .action(async () => {
    const checks = await doctor();
    process.stdout.write(`${formatChecks(checks)}\n`);
    if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
  });

program
  .command('run')
  .description(`run suites (${availableSuites().join(', ')}) and print a results table`)
  .argument('[suites...]', 'suite names')
  .option('--all', 'unit tests and every end-to-end suite')
  .option('--unit', 'unit tests only')
  .option('--shard <i/n>', 'run only shard i of n')
  .option('--preset <name>', 'run the capability matrix preset (smoke, default, full)')
  .option('--matrix <file>', 'run a capability matrix file')
  .option('--qemu <qemu>', 'QEMU for every VM of the run, matrix cells included: a version (7.2), a binary path or a build directory (default: the system one)')
  .option('--src-qemu <qemu>', 'QEMU for sources only (as --qemu; also QTEST_QEMU_BINARY_SRC)')
  .option('--dst-qemu <qemu>', 'QEMU for destinations only (as --qemu; also QTEST_QEMU_BINARY_DST)')
  .option('--results <file>', 'where to write results.json (default: in the run artifacts directory)')
  .option('--fresh-boot', 'boot every VM (no snapshot start; also MIGTEST_FRESH_BOOT=1)')
  .option('--jobs <n>', 'end-to-end suite files run at once (default 1; also MIGTEST_JOBS)')
  .option('--hosts <file>', 'a hosts file: sources on its src host, destinations on its dst host (also MIGTEST_HOSTS; `migtest hosts up` writes one)')
  .option('--blob <file>', "also write vitest's blob report there (shards' blobs merge with vitest --merge-reports)")
  .option('-t, --test-name-pattern <pattern>', 'only the scenarios whose name matches (a regular expression, as vitest -t)')
  .option('--repeat <n>', 'run the selection n times; reports each scenario\'s pass rate and the spread of its figures')
  .option('--keep-artifacts', "keep a passing scenario's disk images and saved streams too (by default only a failed one's)")
  .option('--history [db]', 'record the run in a history store and add its trends and flakes to report.html (default store: MIGTEST_HISTORY_DB, else ~/.cache/migtest/history.sqlite; MIGTEST_HISTORY_DB alone also turns it on)')
  .option('--dry-run', 'check every option, file and QEMU binary, print the plan (suites, arches, binary per side, hosts) and exit; nothing runs or is created')
  .option('--list', "print the selected scenarios' names (as -t matches them) and exit")
  .option('--rotation <share>', "a rotating share of the suites instead of naming them: 'k' (today's share of k, by the UTC day) or 'i/k'; with --qemu newest, CI's pass on the newest QEMU")
  .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']))
  .option('--image <name|file>', "what every VM boots: default (a kernel loaded by QEMU, busybox init), system (systemd, booted by the firmware from its disk) or your own disk image file (qcow2 or raw, with --arch; each pair boots an overlay of it); also MIGTEST_IMAGE")
  .addOption(new Option('--liveness <source>', "where the guest's signs of life come from: heartbeat (default: migtest's heartbeat port) or agent (qemu-guest-agent polled every ~50 ms, for a guest without the heartbeat; a coarser guest downtime); also MIGTEST_LIVENESS").choices(['heartbeat', 'agent']))
  .addOption(new Option('--firmware <firmware>', 'what boots every VM: bios (default), uefi (OVMF / AAVMF, a variable store per VM) or uefi-secure (Secure Boot enforced; also MIGTEST_FIRMWARE)').choices(['bios', 'uefi', 'uefi-secure']))
  .option('--arch <arch>', `architecture, repeatable (${ARCHES.join(', ')})`, collect)
  .action(async (suites: string[], opts) => {
    process.exitCode = await runSuites(suites, opts);
  });

program
  .command('compat')
  .description('run a compatibility grid (QEMU versions x machine types x CPU models) and write a report')
  .option('--grid <name|file>', `grid preset (${gridPresets().join(', ')}) or file`, 'default')
  .option('--hosts <file>', 'a hosts file: sources on its src host, destinations on its dst host')
  .option('--results <file>', 'where to write results.json (default: in the run artifacts directory)')
  .option('--fresh-boot', 'boot every VM (no snapshot start)')
  .option('--dry-run', "check the grid (its versions, machine types and CPU models against the binaries), every option and file, print the plan and exit; nothing runs or is created")
  .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']))
  .option('--arch <arch>', `architecture, repeatable (${ARCHES.join(', ')})`, collect)
  .action(async (opts: { grid: string } & RunOptions) => {
    process.exitCode = await runCompat(opts.grid, opts);
  });

const images = program.command('images').description('guest images');
images
  .command('build')
  .description('build a built-in image (cached by recipe hash): default, or system (systemd, booted by firmware)')
  .option('--arch <arch>', `architecture, repeatable (${ARCHES.join(', ')})`, collect)
  .option('--profile <name>', `which built-in image (${PROFILES.join(', ')})`, 'default')
  .option('--force', 'rebuild even if cached')
  .action(async (opts: { arch?: string[]; profile: string; force?: boolean }) => {
    const name = parseProfile('--profile', opts.profile);
    const arches = (opts.arch ?? [...ARCHES]).map((a) => parseArch(a, '--arch'));
    for (const arch of arches) {
      const cached = !opts.force && findImage(arch, name);
      const img = cached || (await buildImage(arch, { name, force: opts.force }));
      process.stdout.write(`${arch}: ${cached ? 'cached' : `built in ${img.builtSeconds?.toFixed(1)}s`} ${img.kernel} ${img.rootDisk}\n`);
    }
  });

const qemu = program.command('qemu').description('QEMU binaries');
qemu
  .command('list')
  .description('installed and fetched QEMU binaries, and any named by path or build directory')
  .argument('[qemu...]', 'binaries or build directories to check as well')
  .action(async (specs: string[]) => {
    const line = (b: QemuBinary) =>
      `${b.arch.padEnd(8)} ${b.version.padEnd(8)} ${b.source.padEnd(6)} ${b.path}${b.firmwareDirs.length ? ` (-L ${b.firmwareDirs.join(' -L ')})` : ''}\n`;
    for (const b of await listBinaries(true)) process.stdout.write(line(b));
    let bad = 0;
    for (const spec of specs) {
      const found = await Promise.all(ARCHES.map((arch) => findBinary(arch, spec).catch((e: Error) => e)));
      found.forEach((b, i) => process.stdout.write(b instanceof Error ? `${ARCHES[i]!.padEnd(8)} -        -      ${spec}: ${b.message}\n` : line(b)));
      // A QEMU named that runs for no arch at all is an error (one arch's binary in a build is normal).
      if (found.every((b) => b instanceof Error)) bad++;
    }
    if (bad) process.exitCode = 1;
  });
qemu
  .command('fetch')
  .description(
    `place Debian's QEMU of another suite, with its own libraries, in the cache (${Object.entries(FETCHABLE).map(([v, s]) => `${v}: ${s}`).join(', ')}), and check that it boots the default image and migrates to itself`,
  )
  .argument('<version...>', Object.keys(FETCHABLE).join(', '))
  .option('--no-verify', 'skip the boot and self-migration')
  .action(async (versions: string[], opts: { verify: boolean }) => {
    versions.forEach(fetchableSuite); // every one checked before any is fetched
    for (const v of versions) for (const line of await fetchAndVerify(v, opts)) process.stdout.write(`${line}\n`);
  });

const hosts = program.command('hosts').description('two-host runs: check a hosts file; or two hosts on this machine (network namespaces with their own sshd)');
hosts
  .command('check')
  .description("check a hosts file and reach its hosts (keys verified): each one's kernel, KVM, missing tools and shared storage")
  .argument('<file>', 'a hosts file (YAML)')
  .action(async (file: string) => {
    for (const line of await checkHosts(loadHostsFile(file))) process.stdout.write(`${line}\n`);
  });
hosts
  .command('up')
  .description('start the two-host topology (root): prints the hosts file that reaches it')
  .action(async () => void process.stdout.write(`${await hostsUp()}\n`));
hosts
  .command('down')
  .description('stop the two-host topology: its sshds, what runs in it, its namespaces and links')
  .action(async () => {
    const done = await hostsDown();
    process.stdout.write(done.length ? `${done.join('\n')}\n` : 'no topology was up\n');
  });

const report = program.command('report').description('results of runs');
report
  .command('merge')
  .description("merge shards' results (results.json files or directories) into one results.json, junit.xml and summary.md")
  .argument('<paths...>', 'results.json files, or directories holding one')
  .option('--out <dir>', 'where to write them (default: the current directory)')
  .action((paths: string[], opts: { out?: string }) => {
    process.exitCode = mergeCommand(paths, opts);
  });

registerHistory(program);

program
  .command('repro')
  .description("write a standalone script (python3) that replays a scenario from its artifacts directory without migtest: both QEMU command lines and the run's QMP commands, in order, on the same states")
  .argument('<artifacts-dir>', "the scenario's artifacts directory (the one a failure names)")
  .option('--out <file>', 'where to write the script (default: <artifacts-dir>/repro.py)')
  .option('--qemu <qemu>', 'replay both sides on this QEMU instead of the run\'s (a version label, a binary path or a build directory)')
  .option('--src-qemu <qemu>', 'replay the source on this QEMU')
  .option('--dst-qemu <qemu>', 'replay the destination on this QEMU')
  .option('--image <dir>', 'boot this guest image folder instead of the run\'s (vmlinuz, initrd.img, root.qcow2, as `images build` makes it)')
  .action(async (dir: string, opts: ReproOptions) => {
    process.stdout.write(`${await reproCommand(dir, opts)}\n`);
  });

program
  .command('bisect')
  .description('find the first QEMU build (installed builds in version order, or revisions of a QEMU git tree with --git) where one scenario fails: docs/bisect.md')
  .argument('<suite>', 'the suite of the scenario')
  .requiredOption('-t, --test-name-pattern <pattern>', 'a regular expression selecting exactly one scenario (as run -t)')
  .requiredOption('--good <qemu>', 'where the scenario passes: a version label (7.2), default, newest, a binary path or a build directory; with --git, a revision')
  .requiredOption('--bad <qemu>', 'where it fails (as --good)')
  .option('--arch <arch>', `architecture (${ARCHES.join(', ')}; default x86_64)`)
  .option('--repeat <n>', 'run each step n times and take the majority (a tie is bad)')
  .addOption(new Option('--side <side>', 'the side(s) that run the build under test; the other runs the default QEMU').choices(['both', 'source', 'destination']).default('both'))
  .option('--git <dir>', 'bisect the revisions of this QEMU git tree (git bisect) instead of installed builds')
  .option('--build <cmd>', 'with --git: the build command, run as sh -c CMD in the tree for each revision')
  .option('--binary <path>', 'with --git: the built binary, relative to the tree (default build/qemu-system-<arch>)')
  .action(async (suite: string, opts: BisectOptions) => {
    // MIGTEST_BISECT_STEP_CMD: tests only, a node script that stands in for bin/migtest.mjs (no QEMU).
    process.exitCode = await bisectCommand(suite, opts, process.env.MIGTEST_BISECT_STEP_CMD || undefined);
  });

program
  .command('reap')
  .description('kill and report QEMU/helper process groups left by a runner that was killed')
  .action(async () => {
    const lines = await reapAtStart();
    process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'nothing left behind\n');
  });

program.parseAsync().catch(fail);

/**
 * Bad input says what and where (exit 2); anything else says what failed (exit 1). The stack
 * only when asked for (MIGTEST_DEBUG=1): it helps us, not a user.
 */
function fail(e: unknown): void {
  // Commander has said what was wrong (or printed the help or version) already.
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  const message = e instanceof Error ? e.message : String(e);
  const stack = process.env.MIGTEST_DEBUG === '1' && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  process.stderr.write(`migtest: ${message}${e instanceof MigtestError ? '' : ' (an unexpected error; MIGTEST_DEBUG=1 shows where)'}${stack}\n`);
  process.exitCode = e instanceof ConfigError ? 2 : 1;
}
