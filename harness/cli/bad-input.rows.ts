/**
 * The bad-input table: inputs a user gets wrong, each with what the refusal must say on stderr
 * (the flag, variable or file, the field, and where the choices are few, the allowed values).
 * `$D` in args, env and file contents is the row's own directory (its files are written
 * there; a file whose content is null is a directory). Exit code 2 unless `code` says
 * otherwise (`qemu list` reports a binary it cannot use as a failed check: exit 1, on stdout).
 *
 * Safety: every `run` and `compat` row carries --dry-run, so a row the CLI wrongly accepted
 * prints a plan instead of starting VMs; `repro` rows fail on their arguments or files (repro
 * writes a script and never starts QEMU anyway); no row reaches `qemu fetch`, `images build`
 * or `hosts check` past its input checks.
 */
export interface BadInput {
  kind: 'cli' | 'env' | 'matrix' | 'grid' | 'hosts' | 'merge' | 'repro';
  name: string;
  args: string[];
  env?: Record<string, string>;
  files?: Record<string, string | null>;
  want: RegExp;
  code?: number;
  /** Where the refusal is said: stderr unless the command documents otherwise. */
  stream?: 'stderr' | 'stdout';
}

const FLAG_VALUES = /allowed: 1 \(on\), 0 or unset \(off\)/;
const QEMU_FORMS = /allowed: a version label \('system', 'newest', '7\.2', '10\.0\.2'\), a qemu-system-\* binary's path, or a QEMU build directory/;
/** The catalog's list of what is installed ends a "not installed" refusal. */
const INSTALLED = /is not installed \(migtest qemu fetch places 5\.2, 7\.2, 10\.0, 11\.1; .*\); allowed: .*\d+\.\d+\.\d+/;

const run = (...a: string[]) => ['run', 'precopy-basic', ...a, '--dry-run'];
const cli = (name: string, args: string[], want: RegExp, extra: Partial<BadInput> = {}): BadInput => ({ kind: 'cli', name, args, want, ...extra });
const env = (name: string, vars: Record<string, string>, want: RegExp, extra: Partial<BadInput> = {}): BadInput => ({ kind: 'env', name, args: run(), env: vars, want, ...extra });

const MATRIX_OK = 'name: m\naxes:\n  arch: [x86_64]\n  transport: [tcp]\n';
const param = (p: string, v: string) => `${MATRIX_OK}  parameters:\n    ${p}: [${v}]\n`;
const matrix = (name: string, text: string, want: RegExp): BadInput => ({ kind: 'matrix', name, args: ['run', '--matrix', '$D/m.yaml', '--dry-run'], files: { 'm.yaml': text }, want });
const M = '\\$D/m\\.yaml: ';

const GRID = (over = '') => `name: g\narches: [x86_64]\nversions: [system]\nmachines:\n  x86_64: [newest]\ncpus:\n  x86_64: [qemu64]\n${over}`;
/** Through MIGTEST_COMPAT (as the compat suite reads it), or through `compat --grid`. */
const grid = (name: string, text: string, want: RegExp, via: 'env' | 'flag' = 'env'): BadInput =>
  via === 'env'
    ? { kind: 'grid', name, args: ['run', 'compat', '--dry-run'], env: { MIGTEST_COMPAT: '$D/g.yaml' }, files: { 'g.yaml': text }, want }
    : { kind: 'grid', name: `${name} (compat --grid)`, args: ['compat', '--grid', '$D/g.yaml', '--dry-run'], files: { 'g.yaml': text }, want };
const G = '\\$D/g\\.yaml: ';

const SRC_LOCAL = '  src: { local: true, migrationAddress: 127.0.0.1 }\n';
const HOST_DST = (ssh: string, more = '') => `hosts:\n${SRC_LOCAL}  dst:\n    migrationAddress: 192.0.2.1\n    ssh: { ${ssh} }\n${more}`;
const PIN = 'hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000';
const hosts = (name: string, text: string, want: RegExp, files: Record<string, string | null> = {}): BadInput => ({ kind: 'hosts', name, args: ['hosts', 'check', '$D/h.yaml'], files: { 'h.yaml': text, key: 'not a real key, but a file', ...files }, want });
const H = '\\$D/h\\.yaml: ';
const SSH_KEYS = /allowed: address, port, user, identity, hostKey, knownHosts, keepaliveMs, keepaliveCountMax, maxSessions$/m;

const RESULT = (o: Record<string, unknown> = {}) => JSON.stringify({ suite: 's', scenario: 'x', arch: 'x86_64', outcome: 'passed', wallMs: 1, ...o });
const merge = (name: string, files: Record<string, string | null>, args: string[], want: RegExp): BadInput => ({ kind: 'merge', name, args: ['report', 'merge', ...args], files, want });
const MERGE_ALLOWED = /allowed: a results\.json written by migtest run/;

const ARGV = JSON.stringify(['/usr/bin/qemu-system-x86_64', '-machine', 'q35']);
const scenario = (src = ARGV, dst = ARGV) => ({ 'sc/': null, 'sc/src.argv.json': src, 'sc/dst.argv.json': dst });
const repro = (name: string, files: Record<string, string | null>, args: string[], want: RegExp): BadInput => ({ kind: 'repro', name, args: ['repro', ...args], files, want });
const AS_WRITTEN = /allowed: a scenario's artifacts directory as migtest wrote it/;

export const BAD_INPUTS: BadInput[] = [
  // --- flags: run ---
  cli('an unknown command', ['frobnicate'], /error: unknown command 'frobnicate'/),
  cli('an unknown option of run', run('--frob'), /error: unknown option '--frob'/),
  cli('--jobs without its value', ['run', 'precopy-basic', '--dry-run', '--jobs'], /error: option '--jobs <n>' argument missing/),
  cli('an unknown suite', run('nope'), /invalid suite: 'nope' does not exist; allowed: .*precopy-basic/),
  cli('no suite, no --all', ['run', '--dry-run'], /invalid suite: name at least one suite, or --all, or --preset; allowed: .*precopy-basic/),
  cli('an empty --arch', run('--arch', ''), /invalid --arch: '' is not a supported architecture; allowed: x86_64, aarch64/),
  cli('--arch riscv64', run('--arch', 'riscv64'), /invalid --arch: 'riscv64' is not a supported architecture; allowed: x86_64, aarch64/),
  cli('--jobs 0', run('--jobs', '0'), /invalid --jobs: '0'; allowed: an integer from 1 to 8/),
  cli('--jobs -1', run('--jobs', '-1'), /invalid --jobs: '-1'; allowed: an integer from 1 to 8/),
  cli('--jobs abc', run('--jobs', 'abc'), /invalid --jobs: 'abc'; allowed: an integer from 1 to 8/),
  cli('--repeat 0', run('--repeat', '0'), /invalid --repeat: '0'; allowed: a whole number from 1 to 1000/),
  cli('--repeat x', run('--repeat', 'x'), /invalid --repeat: 'x'; allowed: a whole number from 1 to 1000/),
  cli('--shard 3/2', ['run', '--all', '--shard', '3/2', '--dry-run'], /invalid --shard: '3\/2'; allowed: i\/n with 1 <= i <= n/),
  cli('--shard half', ['run', '--all', '--shard', 'half', '--dry-run'], /invalid --shard: 'half'; allowed: i\/n with 1 <= i <= n/),
  cli('--rotation 0', ['run', '--rotation', '0', '--dry-run'], /invalid --rotation: '0'; allowed: k or i\/k with 1 <= i <= k <= 50/),
  cli('--rotation 5/4', ['run', '--rotation', '5/4', '--dry-run'], /invalid --rotation: '5\/4'; allowed: i\/k with 1 <= i <= k/),
  cli('--rotation with more shares than suites named', ['run', 'precopy-basic', 'disk-io', '--rotation', '3', '--dry-run'], /invalid --rotation: '3' shares 2 suite\(s\) named 3 ways: some days would run none; allowed: k at most 2 with these suites/),
  cli('--rotation with --all', ['run', '--all', '--rotation', '2', '--dry-run'], /invalid --rotation: picks a share of the suites itself, or of those named: not with --all; allowed: k or i\/k, with suites named or none/),
  cli('--accel xen', run('--accel', 'xen'), /error: option '--accel <accel>' argument 'xen' is invalid\. Allowed choices are auto, kvm, tcg/),
  cli('--liveness ping', run('--liveness', 'ping'), /error: option '--liveness <source>' argument 'ping' is invalid\. Allowed choices are heartbeat, agent/),
  cli('--firmware efi', run('--firmware', 'efi'), /error: option '--firmware <firmware>' argument 'efi' is invalid\. Allowed choices are bios, uefi, uefi-secure/),
  cli('--image fedora', run('--image', 'fedora'), /invalid --image: 'fedora' is not a built-in image; allowed: default, system/),
  cli('--image a missing file', run('--image', '$D/mine.qcow2'), /invalid --image: '\$D\/mine\.qcow2' is neither a built-in image nor an existing file; allowed: default, system, or the path of a disk image file/),
  cli('--image a file without --arch', run('--image', '$D/mine.raw'), /invalid --image: '\$D\/mine\.raw' boots one architecture: give --arch; allowed: x86_64, aarch64/, { files: { 'mine.raw': 'x' } }),
  cli('--image a file that is no bootable disk', run('--image', '$D/mine.raw', '--arch', 'x86_64'), /invalid --image: '\$D\/mine\.raw' is raw with no partition table: not a bootable disk; allowed: default, system, or the path/, { files: { 'mine.raw': 'not a disk' } }),
  cli('--qemu 9.9 (not installed)', run('--qemu', '9.9'), new RegExp(`invalid qemu version for x86_64: '9\\.9' ${INSTALLED.source}`)),
  cli('--qemu a missing path', run('--qemu', '/nonexistent/qemu-system-x86_64'), new RegExp(`invalid qemu for x86_64: '/nonexistent/qemu-system-x86_64' does not exist; ${QEMU_FORMS.source}`)),
  cli('--qemu empty', run('--qemu', ''), new RegExp(`invalid --qemu: is empty; ${QEMU_FORMS.source}`)),
  cli('--dst-qemu a directory without a build', run('--dst-qemu', '$D'), /invalid qemu for x86_64: '\$D' has no qemu-system-x86_64; allowed: a run limited to that arch/),
  cli('--qemu beside --src-qemu', run('--qemu', 'system', '--src-qemu', 'system'), /invalid --qemu\/--src-qemu\/--dst-qemu: --qemu sets both sides: give it alone, or the per-side options/),
  cli('--unit beside suites', run('--unit'), /invalid --unit: runs the unit tests alone: name no suite, and no --all, --preset or --matrix; allowed: --unit alone/),
  cli('--preset unknown', ['run', '--preset', 'huge', '--dry-run'], /invalid matrix: 'huge' is neither a preset nor a file; allowed: default, full, smoke/),
  cli('--preset beside --matrix', ['run', '--preset', 'smoke', '--matrix', 'smoke', '--dry-run'], /invalid --preset\/--matrix: give one, not both; allowed: default, full, smoke/),
  cli('--matrix a missing file', ['run', '--matrix', '$D/none.yaml', '--dry-run'], /invalid matrix: '\$D\/none\.yaml' is neither a preset nor a file; allowed: default, full, smoke/),
  cli('--matrix a directory', ['run', '--matrix', '$D/mdir', '--dry-run'], /invalid matrix \$D\/mdir: is not a file; allowed: a YAML file/, { files: { mdir: null } }),
  cli('--results into a missing directory', run('--results', '$D/no/such/dir/results.json'), /invalid --results: '\$D\/no\/such\/dir\/results\.json': its folder \$D\/no\/such\/dir does not exist; allowed: a file in an existing, writable folder/),
  cli('--results onto a directory', run('--results', '$D'), /invalid --results: '\$D' is a directory; allowed: a file path/),
  cli('--results empty', run('--results', ''), /invalid --results: is empty; allowed: a file path/),
  cli('--blob into a missing directory', run('--blob', '$D/no/dir/blob.json'), /invalid --blob: '\$D\/no\/dir\/blob\.json': its folder \$D\/no\/dir does not exist/),
  cli('--hosts a missing file', run('--hosts', '$D/hosts.yaml'), /invalid --hosts: '\$D\/hosts\.yaml' does not exist; allowed: a hosts file/),
  cli('--hosts empty', run('--hosts', ''), /invalid --hosts: is empty; allowed: a hosts file/),
  cli('-t an invalid regular expression', run('-t', '(unclosed'), /invalid -t\/--test-name-pattern: '\(unclosed' is not a regular expression \(.*Unterminated group\); allowed: a regular expression/),
  cli('-t matching no scenario (--list)', ['run', 'precopy-basic', '-t', 'zzz-no-such-scenario-zzz', '--list'], /invalid -t: 'zzz-no-such-scenario-zzz' matches no scenario of precopy-basic; allowed: a regular expression matching scenario names/),
  cli('--dry-run with --list', run('--list'), /invalid --dry-run\/--list: give one: --dry-run prints the plan, --list the scenarios; allowed: --dry-run, --list/),

  // --- flags: compat, qemu, images, hosts, report, repro ---
  cli('compat with an unknown grid preset', ['compat', '--grid', 'enormous', '--dry-run'], /invalid compat grid: 'enormous' is neither a preset nor a file; allowed: all, default, smoke/),
  cli('compat with --arch s390x', ['compat', '--arch', 's390x', '--dry-run'], /invalid --arch: 's390x' is not a supported architecture; allowed: x86_64, aarch64/),
  cli('compat with --hosts a missing file', ['compat', '--hosts', '$D/h.yaml', '--dry-run'], /invalid --hosts: '\$D\/h\.yaml' does not exist/),
  cli('compat with --results into a missing directory', ['compat', '--results', '$D/no/r.json', '--dry-run'], /invalid --results: '\$D\/no\/r\.json': its folder \$D\/no does not exist/),
  cli('qemu fetch 9.9', ['qemu', 'fetch', '9.9'], /invalid qemu fetch version: '9\.9' cannot be fetched; allowed: 5\.2, 7\.2, 10\.0, 11\.1/),
  cli('qemu fetch 7.2 and 9.9 (each checked before any is fetched)', ['qemu', 'fetch', '7.2', '9.9'], /invalid qemu fetch version: '9\.9' cannot be fetched; allowed: 5\.2, 7\.2, 10\.0, 11\.1/),
  cli('qemu fetch with no version', ['qemu', 'fetch'], /error: missing required argument 'version'/),
  cli('qemu list with a missing binary (a failed check: exit 1)', ['qemu', 'list', '/nonexistent/qemu'], /\/nonexistent\/qemu: invalid qemu for x86_64: '\/nonexistent\/qemu' does not exist; allowed: a version label/, { code: 1, stream: 'stdout' }),
  cli('images build --arch mips', ['images', 'build', '--arch', 'mips'], /invalid --arch: 'mips' is not a supported architecture; allowed: x86_64, aarch64/),
  cli('hosts check with no file', ['hosts', 'check'], /error: missing required argument 'file'/),
  cli('hosts check on a missing file', ['hosts', 'check', '$D/none.yaml'], /invalid --hosts: '\$D\/none\.yaml' does not exist; allowed: a hosts file/),
  cli('hosts check on a directory', ['hosts', 'check', '$D/hdir'], /invalid hosts file \$D\/hdir: is not a file; allowed: a YAML file/, { files: { hdir: null } }),
  cli('report merge with no path', ['report', 'merge'], /error: missing required argument 'paths'/),
  cli('report merge --out without its value', ['report', 'merge', '$D/r.json', '--out'], /error: option '--out <dir>' argument missing/),
  cli('repro with no directory', ['repro'], /error: missing required argument 'artifacts-dir'/),
  cli('repro on a missing directory', ['repro', '$D/none'], /invalid repro: '\$D\/none' is not a directory; allowed: a scenario's artifacts directory/),

  // --- environment (every MIGTEST_* the harness reads; internal markers aside) ---
  env('MIGTEST_FRESH_BOOT=yes', { MIGTEST_FRESH_BOOT: 'yes' }, new RegExp(`invalid MIGTEST_FRESH_BOOT: 'yes'; ${FLAG_VALUES.source}`)),
  env('MIGTEST_QUIET=2', { MIGTEST_QUIET: '2' }, new RegExp(`invalid MIGTEST_QUIET: '2'; ${FLAG_VALUES.source}`)),
  env('MIGTEST_KEEP_ARTIFACTS=on', { MIGTEST_KEEP_ARTIFACTS: 'on' }, new RegExp(`invalid MIGTEST_KEEP_ARTIFACTS: 'on'; ${FLAG_VALUES.source}`)),
  env('MIGTEST_NO_BUNDLE=yes', { MIGTEST_NO_BUNDLE: 'yes' }, new RegExp(`invalid MIGTEST_NO_BUNDLE: 'yes'; ${FLAG_VALUES.source}`)),
  env('MIGTEST_NO_WATCHDOG=please', { MIGTEST_NO_WATCHDOG: 'please' }, new RegExp(`invalid MIGTEST_NO_WATCHDOG: 'please'; ${FLAG_VALUES.source}`)),
  env('MIGTEST_DEBUG=yes', { MIGTEST_DEBUG: 'yes' }, new RegExp(`invalid MIGTEST_DEBUG: 'yes'; ${FLAG_VALUES.source}`)),
  env('MIGTEST_QUIET=no (before any subcommand)', { MIGTEST_QUIET: 'no' }, new RegExp(`invalid MIGTEST_QUIET: 'no'; ${FLAG_VALUES.source}`), { args: ['report', 'merge', '$D/none.json'] }),
  env('MIGTEST_JOBS=0', { MIGTEST_JOBS: '0' }, /invalid MIGTEST_JOBS: '0'; allowed: an integer from 1 to 8/),
  env('MIGTEST_JOBS=lots', { MIGTEST_JOBS: 'lots' }, /invalid MIGTEST_JOBS: 'lots'; allowed: an integer from 1 to 8/),
  env('MIGTEST_TIME_SCALE=0', { MIGTEST_TIME_SCALE: '0' }, /invalid MIGTEST_TIME_SCALE: '0'; allowed: a number > 0 and <= 100/),
  env('MIGTEST_TIME_SCALE=fast', { MIGTEST_TIME_SCALE: 'fast' }, /invalid MIGTEST_TIME_SCALE: 'fast'; allowed: a number > 0 and <= 100/),
  env('MIGTEST_SNAPSHOT_CACHE_GIB=lots', { MIGTEST_SNAPSHOT_CACHE_GIB: 'lots' }, /invalid MIGTEST_SNAPSHOT_CACHE_GIB: 'lots'; allowed: a number of GiB >= 0 and <= 1024/),
  env('MIGTEST_TIME_SCALE=1e9', { MIGTEST_TIME_SCALE: '1e9' }, /invalid MIGTEST_TIME_SCALE: '1e9'; allowed: a number > 0 and <= 100/),
  env('MIGTEST_ACCEL=xen', { MIGTEST_ACCEL: 'xen' }, /invalid MIGTEST_ACCEL: 'xen'; allowed: auto, kvm, tcg/),
  env('MIGTEST_IMAGE=fedora', { MIGTEST_IMAGE: 'fedora' }, /invalid MIGTEST_IMAGE: 'fedora' is not a built-in image; allowed: default, system/),
  env('MIGTEST_IMAGE a missing file', { MIGTEST_IMAGE: '/nonexistent/guest.qcow2' }, /invalid MIGTEST_IMAGE: '\/nonexistent\/guest\.qcow2' is neither a built-in image nor an existing file/),
  env('MIGTEST_LIVENESS=ping', { MIGTEST_LIVENESS: 'ping' }, /invalid MIGTEST_LIVENESS: 'ping'; allowed: heartbeat \(the guest runs migtest's heartbeat\), agent \(qemu-guest-agent polled: a guest without the heartbeat\)/),
  env('MIGTEST_FIRMWARE=efi', { MIGTEST_FIRMWARE: 'efi' }, /invalid MIGTEST_FIRMWARE: 'efi'; allowed: bios, uefi, uefi-secure/),
  env('MIGTEST_ARCHES=sparc', { MIGTEST_ARCHES: 'sparc' }, /invalid MIGTEST_ARCHES: 'sparc' is not a supported architecture; allowed: x86_64, aarch64/),
  env('MIGTEST_QEMU=8.8', { MIGTEST_QEMU: '8.8' }, new RegExp(`invalid qemu version for x86_64: '8\\.8' ${INSTALLED.source}`)),
  env('MIGTEST_QEMU_SRC a missing path', { MIGTEST_QEMU_SRC: '/nonexistent/q' }, new RegExp(`invalid qemu for x86_64: '/nonexistent/q' does not exist; ${QEMU_FORMS.source}`)),
  env('MIGTEST_QEMU_DST a missing path', { MIGTEST_QEMU_DST: '/nonexistent/dq' }, new RegExp(`invalid qemu for x86_64: '/nonexistent/dq' does not exist; ${QEMU_FORMS.source}`)),
  env('QTEST_QEMU_BINARY a missing path', { QTEST_QEMU_BINARY: '/nonexistent/qtest-q' }, /invalid qemu for x86_64: '\/nonexistent\/qtest-q' does not exist/),
  env('MIGTEST_MATRIX a missing file', { MIGTEST_MATRIX: '$D/none.yaml' }, /invalid matrix: '\$D\/none\.yaml' is neither a preset nor a file; allowed: default, full, smoke/, { args: ['run', 'matrix-1', '--dry-run'] }),
  env('MIGTEST_MATRIX a bad file', { MIGTEST_MATRIX: '$D/m.yaml' }, /invalid \$D\/m\.yaml: axes\.capabilities\.nope: unknown capability; allowed: auto-converge/, { args: ['run', 'matrix-1', '--dry-run'], files: { 'm.yaml': `${MATRIX_OK}  capabilities:\n    nope: [true]\n` } }),
  env('MIGTEST_COMPAT a missing file', { MIGTEST_COMPAT: '$D/none.yaml' }, /invalid compat grid: '\$D\/none\.yaml' is neither a preset nor a file; allowed: all, default, smoke/, { args: ['run', 'compat', '--dry-run'] }),
  env('MIGTEST_COMPAT an unknown preset (its suite not run)', { MIGTEST_COMPAT: 'tiny' }, /invalid compat grid: 'tiny' is neither a preset nor a file; allowed: all, default, smoke/),
  env('MIGTEST_HOSTS a missing file', { MIGTEST_HOSTS: '$D/none.yaml' }, /invalid --hosts: '\$D\/none\.yaml' does not exist/),
  env('MIGTEST_HOSTS a bad file', { MIGTEST_HOSTS: '$D/h.yaml' }, /invalid \$D\/h\.yaml: hosts\.dst: Required/, { files: { 'h.yaml': `hosts:\n${SRC_LOCAL}` } }),
  env('MIGTEST_KERNEL without initrd and disk', { MIGTEST_KERNEL: '/boot/vmlinuz' }, /invalid MIGTEST_KERNEL\/MIGTEST_INITRD\/MIGTEST_DISK: set all three or none; allowed: paths to a kernel, an initrd and a root disk/),
  env('MIGTEST_KERNEL a missing file', { MIGTEST_KERNEL: '$D/k', MIGTEST_INITRD: '$D/i', MIGTEST_DISK: '$D/d' }, /invalid MIGTEST_KERNEL: '\$D\/k' does not exist or is not a file; allowed: a path to a file/),
  env('MIGTEST_INITRD a missing file', { MIGTEST_KERNEL: '$D/k', MIGTEST_INITRD: '$D/i', MIGTEST_DISK: '$D/d' }, /invalid MIGTEST_INITRD: '\$D\/i' does not exist or is not a file/, { files: { k: 'kernel' } }),
  env('MIGTEST_DISK a directory', { MIGTEST_KERNEL: '$D/k', MIGTEST_INITRD: '$D/i', MIGTEST_DISK: '$D/d' }, /invalid MIGTEST_DISK: '\$D\/d' does not exist or is not a file/, { files: { k: 'kernel', i: 'initrd', d: null } }),
  env('MIGTEST_CACHE a file, not a directory', { MIGTEST_CACHE: '$D/f' }, /invalid MIGTEST_CACHE: '\$D\/f' is not a directory; allowed: a directory \(made when missing\)/, { files: { f: 'x' } }),
  env('MIGTEST_STATE a file, not a directory', { MIGTEST_STATE: '$D/f' }, /invalid MIGTEST_STATE: '\$D\/f' is not a directory; allowed: a directory \(made when missing\)/, { files: { f: 'x' } }),
  env('MIGTEST_ARTIFACTS a file, not a directory', { MIGTEST_ARTIFACTS: '$D/f' }, /invalid MIGTEST_ARTIFACTS: '\$D\/f' is not a directory; allowed: a directory \(made when missing\)/, { files: { f: 'x' } }),

  // --- matrix files ---
  matrix('a YAML syntax error', 'name: m\naxes: [unclosed\n', /invalid matrix \$D\/m\.yaml: not valid YAML: .* at line 3, column 1/),
  matrix('an empty file', '', /invalid matrix \$D\/m\.yaml: the file is empty; allowed: a YAML matrix/),
  matrix('a tab-indented file', 'name: m\naxes:\n\tarch: [x86_64]\n', /invalid matrix \$D\/m\.yaml: not valid YAML: Tabs are not allowed as indentation at line 3/),
  matrix('a list, not a mapping', '- a\n- b\n', new RegExp(`${M}\\(top level\\): Expected object, received array`)),
  matrix('no name', 'axes:\n  arch: [x86_64]\n', new RegExp(`${M}name: Required`)),
  matrix('an unknown top-level key', `${MATRIX_OK}axis: {}\n`, new RegExp(`${M}\\(top level\\): Unrecognized key\\(s\\) in object: 'axis'; allowed: name, description, axes, exclude, only, include, workload`)),
  matrix('an unknown axis', `${MATRIX_OK}  machine: [q35]\n`, new RegExp(`${M}axes: Unrecognized key\\(s\\) in object: 'machine'; allowed: arch, transport, qemu, capabilities, parameters`)),
  matrix('an unknown capability', `${MATRIX_OK}  capabilities:\n    multifdd: [true]\n`, new RegExp(`${M}axes\\.capabilities\\.multifdd: unknown capability; allowed: auto-converge, .*multifd, .*zero-copy-send`)),
  matrix('a capability value that is not a boolean', `${MATRIX_OK}  capabilities:\n    multifd: [maybe]\n`, new RegExp(`${M}axes\\.capabilities\\.multifd\\[0\\]: Expected boolean, received string`)),
  matrix('an unknown parameter', param('warp-speed', '9'), new RegExp(`${M}axes\\.parameters\\.warp-speed: unknown parameter; allowed: max-bandwidth, .*multifd-channels, .*announce-step`)),
  matrix('compress-level (a parameter QEMU removed)', param('compress-level', '9'), new RegExp(`${M}axes\\.parameters\\.compress-level: unknown parameter; allowed: max-bandwidth`)),
  matrix('multifd-channels 0', param('multifd-channels', '0'), new RegExp(`${M}axes\\.parameters\\.multifd-channels\\[0\\]: 0; allowed: an integer from 1 to 255`)),
  matrix('multifd-channels -1', param('multifd-channels', '-1'), new RegExp(`${M}axes\\.parameters\\.multifd-channels\\[0\\]: -1; allowed: an integer from 1 to 255`)),
  matrix('multifd-channels 1e20', param('multifd-channels', '1e20'), new RegExp(`${M}axes\\.parameters\\.multifd-channels\\[0\\]: 100000000000000000000; allowed: an integer from 1 to 255`)),
  matrix('max-bandwidth 1e300', param('max-bandwidth', '1e300'), new RegExp(`${M}axes\\.parameters\\.max-bandwidth\\[0\\]: 1e\\+300; allowed: an integer from 0 to 9007199254740991`)),
  matrix('zero-page-detection fast', param('zero-page-detection', 'fast'), new RegExp(`${M}axes\\.parameters\\.zero-page-detection\\[0\\]: "fast"; allowed: none, legacy, multifd`)),
  matrix('cpu-throttle-tailslow "yes"', param('cpu-throttle-tailslow', 'yes'), new RegExp(`${M}axes\\.parameters\\.cpu-throttle-tailslow\\[0\\]: "yes" is not a boolean; allowed: true, false`)),
  matrix('an unknown transport', 'name: m\naxes:\n  transport: [pigeon]\n', new RegExp(`${M}axes\\.transport\\[0\\]: .*received 'pigeon'; allowed: tcp, unix, exec, fd, file`)),
  matrix('an unknown arch', 'name: m\naxes:\n  arch: [ppc64]\n', new RegExp(`${M}axes\\.arch\\[0\\]: .*received 'ppc64'; allowed: x86_64, aarch64`)),
  matrix('an unquoted version 7.2', 'name: m\naxes:\n  arch: [x86_64]\n  qemu: [{ src: default, dst: 7.2 }]\n', new RegExp(`${M}axes\\.qemu\\[0\\]\\.dst: a QEMU version must be a string: write it quoted \\('7\\.2'\\)`)),
  matrix('a QEMU version not installed', "name: m\naxes:\n  arch: [x86_64]\n  qemu: [{ src: default, dst: '9.9' }]\n", new RegExp(`invalid qemu version for x86_64: '9\\.9' ${INSTALLED.source}`)),
  matrix('a QEMU path that does not exist', "name: m\naxes:\n  arch: [x86_64]\n  qemu: [{ src: default, dst: '/nonexistent/qemu-system-x86_64' }]\n", new RegExp(`invalid qemu for x86_64: '/nonexistent/qemu-system-x86_64' does not exist; ${QEMU_FORMS.source}`)),
  matrix('an exclude naming an unknown capability', `${MATRIX_OK}exclude:\n  - { capabilities: { nope: true } }\n`, new RegExp(`${M}exclude\\[0\\]\\.capabilities\\.nope: unknown capability; allowed: auto-converge`)),
  matrix('an only with an unknown transport', `${MATRIX_OK}only:\n  - { transport: rdma }\n`, new RegExp(`${M}only\\[0\\]\\.transport: .*received 'rdma'; allowed: tcp, unix, exec, fd, file`)),
  matrix('an include with an unknown key', `${MATRIX_OK}include:\n  - { colour: blue }\n`, new RegExp(`${M}include\\[0\\]: Unrecognized key\\(s\\) in object: 'colour'; allowed: arch, transport, qemu, capabilities, parameters`)),
  matrix('an include with a parameter out of range', `${MATRIX_OK}include:\n  - { parameters: { multifd-channels: 0 } }\n`, new RegExp(`${M}include\\[0\\]\\.parameters\\.multifd-channels: 0; allowed: an integer from 1 to 255`)),
  matrix('a filter leaving no cell', `${MATRIX_OK}exclude:\n  - { arch: x86_64 }\n`, /invalid matrix \$D\/m\.yaml: has no cell for the run's arches \(x86_64, aarch64\): its filters leave none/),
  matrix('workload mib 0', `${MATRIX_OK}workload: { mib: 0, rateMiBs: 1 }\n`, new RegExp(`${M}workload\\.mib: Number must be greater than or equal to 4`)),
  matrix('workload with an unknown key', `${MATRIX_OK}workload: { mib: 32, rateMiBs: 1, rate: 1 }\n`, new RegExp(`${M}workload: Unrecognized key\\(s\\) in object: 'rate'; allowed: mib, rateMiBs`)),

  // --- compatibility grids ---
  grid('a YAML syntax error', 'name: g\narches: [x86_64\n', /invalid compat grid \$D\/g\.yaml: not valid YAML: .* at line 3, column 1/),
  grid('an empty file', '', /invalid compat grid \$D\/g\.yaml: the file is empty; allowed: a YAML compat grid/),
  grid('no versions', 'name: g\narches: [x86_64]\nmachines: { x86_64: [newest] }\ncpus: { x86_64: [qemu64] }\n', new RegExp(`${G}versions: Required`)),
  grid('an unknown arch', GRID().replace('arches: [x86_64]', 'arches: [mips]'), new RegExp(`${G}arches\\[0\\]: .*received 'mips'; allowed: x86_64, aarch64`)),
  grid('an unquoted version', GRID().replace('versions: [system]', 'versions: [system, 7.2]'), new RegExp(`${G}versions\\[1\\]: a QEMU version must be a string: write it quoted \\('7\\.2'\\)`)),
  grid('a version not installed', GRID().replace('versions: [system]', "versions: [system, '9.9']"), /invalid compat grid \$D\/g\.yaml: versions: '9\.9' for x86_64: '9\.9' is not installed \(migtest qemu fetch places .*\); allowed: .*\d+\.\d+\.\d+$/m),
  grid('a version not installed', GRID().replace('versions: [system]', "versions: ['9.9']"), /invalid compat grid \$D\/g\.yaml: versions: '9\.9' for x86_64: '9\.9' is not installed/, 'flag'),
  grid('a version path that does not exist', GRID().replace('versions: [system]', "versions: [system, '/nonexistent/qemu-system-x86_64']"), new RegExp(`versions: '/nonexistent/qemu-system-x86_64' for x86_64: '/nonexistent/qemu-system-x86_64' does not exist; ${QEMU_FORMS.source}`)),
  grid('a version in a wrong form', GRID().replace('versions: [system]', 'versions: [latest-and-greatest]'), new RegExp(`${G}versions\\[0\\]: installed \\(every installed and fetched QEMU\\), or a version label`)),
  grid('a machine type that does not exist', GRID().replace('[newest]', '[pc-q35-1.0-imaginary]'), /invalid compat grid \$D\/g\.yaml: machines\.x86_64: 'pc-q35-1\.0-imaginary' is a machine type none of its QEMUs \(10\.0\.2\) knows; allowed: newest, oldest, common, or a machine type one of them knows/),
  grid('a CPU model that does not exist', GRID().replace('[qemu64]', '[pentium-9000]'), /invalid compat grid \$D\/g\.yaml: cpus\.x86_64: 'pentium-9000' is a CPU model none of its QEMUs \(10\.0\.2\) knows; allowed: a CPU model one of them knows/),
  grid('machines missing for a listed arch', GRID().replace('arches: [x86_64]', 'arches: [x86_64, aarch64]'), new RegExp(`${G}machines\\.aarch64: missing for listed arch aarch64; allowed: a list of names`)),
  grid('an unknown key', GRID('colour: blue\n'), new RegExp(`${G}\\(top level\\): Unrecognized key\\(s\\) in object: 'colour'; allowed: name, description, arches, versions, machines, cpus`)),
  grid('an unknown arch under machines', GRID().replace('  x86_64: [newest]', '  x86_64: [newest]\n  riscv64: [virt]'), new RegExp(`${G}machines: Unrecognized key\\(s\\) in object: 'riscv64'; allowed: x86_64, aarch64$`, 'm')),
  grid('an empty machines list', GRID().replace('[newest]', '[]'), new RegExp(`${G}machines\\.x86_64: Array must contain at least 1 element`)),

  // --- hosts files ---
  hosts('a YAML syntax error', 'hosts: { src: [\n', /invalid hosts file \$D\/h\.yaml: not valid YAML: .* at line 2, column 1/),
  hosts('an empty file', '', /invalid hosts file \$D\/h\.yaml: the file is empty; allowed: a YAML hosts file/),
  hosts('an unknown top-level key', `hosts:\n${SRC_LOCAL}  dst: { local: true, migrationAddress: 127.0.0.1 }\nhost: {}\n`, new RegExp(`${H}\\(top level\\): Unrecognized key\\(s\\) in object: 'host'; allowed: hosts$`, 'm')),
  hosts('no dst host', `hosts:\n${SRC_LOCAL}`, new RegExp(`${H}hosts\\.dst: Required`)),
  hosts('an unknown host', `hosts:\n${SRC_LOCAL}  dst: { local: true, migrationAddress: 127.0.0.1 }\n  third: { local: true }\n`, new RegExp(`${H}hosts: Unrecognized key\\(s\\) in object: 'third'; allowed: src, dst$`, 'm')),
  hosts('an unknown key of a host', `hosts:\n${SRC_LOCAL}  dst: { local: true, migrationAddress: 127.0.0.1, cores: 4 }\n`, new RegExp(`${H}hosts\\.dst: Unrecognized key\\(s\\) in object: 'cores'; allowed: local, ssh, migrationAddress, dirs, sharedStorage$`, 'm')),
  hosts('an unknown ssh option', HOST_DST(`address: 192.0.2.1, identity: $D/key, ${PIN}, pasword: x`), new RegExp(`${H}hosts\\.dst\\.ssh: Unrecognized key\\(s\\) in object: 'pasword'; ${SSH_KEYS.source}`, 'm')),
  hosts('an unknown dirs key', HOST_DST(`address: 192.0.2.1, identity: $D/key, ${PIN}`, '    dirs: { images: /var/img, scratch: /tmp }\n'), new RegExp(`${H}hosts\\.dst\\.dirs: Unrecognized key\\(s\\) in object: 'scratch'; allowed: images, artifacts, qemu, shared$`, 'm')),
  hosts('an address 999.1.2.3', HOST_DST(`address: 999.1.2.3, identity: $D/key, ${PIN}`), new RegExp(`${H}hosts\\.dst\\.ssh\\.address: '999\\.1\\.2\\.3' is not an IPv4 address \\(each number is 0 to 255\\)`)),
  hosts('a migrationAddress with a space', `hosts:\n${SRC_LOCAL}  dst: { local: true, migrationAddress: 'my host' }\n`, new RegExp(`${H}hosts\\.dst\\.migrationAddress: 'my host' is neither an IPv4 or IPv6 address nor a host name`)),
  hosts('no migrationAddress', `hosts:\n${SRC_LOCAL}  dst: { local: true }\n`, new RegExp(`${H}hosts\\.dst\\.migrationAddress: Required`)),
  hosts('a port 70000', HOST_DST(`address: 192.0.2.1, port: 70000, identity: $D/key, ${PIN}`), new RegExp(`${H}hosts\\.dst\\.ssh\\.port: Number must be less than or equal to 65535`)),
  hosts('a missing identity file', HOST_DST(`address: 192.0.2.1, identity: $D/none, ${PIN}`), /invalid \$D\/h\.yaml: hosts\.dst\.ssh\.identity: '\$D\/none' is not a file; allowed: the private key file ssh authenticates with/),
  hosts('an identity that is a directory', HOST_DST(`address: 192.0.2.1, identity: $D/keydir, ${PIN}`), /invalid \$D\/h\.yaml: hosts\.dst\.ssh\.identity: '\$D\/keydir' is not a file; allowed: the private key file/, { keydir: null }),
  hosts('an identity under ~ that is not there', HOST_DST(`address: 192.0.2.1, identity: ~/.ssh/none, ${PIN}`), /hosts\.dst\.ssh\.identity: '.*\/\.ssh\/none' is not a file; allowed: the private key file/),
  hosts('a knownHosts file that is not there', HOST_DST('address: 192.0.2.1, identity: $D/key, knownHosts: $D/known'), /invalid \$D\/h\.yaml: hosts\.dst\.ssh\.knownHosts: '\$D\/known' is not a file; allowed: a known_hosts file/),
  hosts('neither hostKey nor knownHosts', HOST_DST('address: 192.0.2.1, identity: $D/key'), new RegExp(`${H}hosts\\.dst\\.ssh: exactly one of hostKey \\(pinned\\) and knownHosts: a host key is always verified`)),
  hosts('a hostKey that is not a key line', HOST_DST('address: 192.0.2.1, identity: $D/key, hostKey: hello'), new RegExp(`${H}hosts\\.dst\\.ssh\\.hostKey: a public key line: "ssh-ed25519 AAAA\\.\\.\\."`)),
  hosts('keepaliveMs 5', HOST_DST(`address: 192.0.2.1, identity: $D/key, ${PIN}, keepaliveMs: 5`), new RegExp(`${H}hosts\\.dst\\.ssh\\.keepaliveMs: Number must be greater than or equal to 200`)),
  hosts('both local and ssh', `hosts:\n${SRC_LOCAL}  dst:\n    local: true\n    migrationAddress: 192.0.2.1\n    ssh: { address: 192.0.2.1, identity: $D/key, ${PIN} }\n`, new RegExp(`${H}hosts\\.dst: exactly one of local: true and ssh: \\{\\.\\.\\.\\}`)),
  hosts('a relative shared dir', HOST_DST(`address: 192.0.2.1, identity: $D/key, ${PIN}`, '    dirs: { shared: relative/path }\n'), new RegExp(`${H}hosts\\.dst\\.dirs\\.shared: an absolute path`)),
  hosts('sharedStorage without dirs.shared', `hosts:\n  src: { local: true, migrationAddress: 127.0.0.1, sharedStorage: true }\n  dst: { local: true, migrationAddress: 127.0.0.1, sharedStorage: true }\n`, new RegExp(`${H}hosts\\.src\\.dirs\\.shared: sharedStorage: true needs dirs\\.shared`)),
  hosts('sharedStorage on one host only', HOST_DST(`address: 192.0.2.1, identity: $D/key, ${PIN}`, '    dirs: { shared: /mnt/s }\n    sharedStorage: true\n'), new RegExp(`${H}hosts\\.dst\\.sharedStorage: sharedStorage must be the same on both hosts`)),

  // --- report merge ---
  merge('bad JSON', { 'r.json': '{ not json' }, ['$D/r.json'], new RegExp(`invalid report merge: \\$D/r\\.json is not valid JSON \\(.*\\); ${MERGE_ALLOWED.source}`)),
  merge('an empty file', { 'r.json': '' }, ['$D/r.json'], /invalid report merge: \$D\/r\.json is not valid JSON \(Unexpected end of JSON input\)/),
  merge('JSON that is not results', { 'r.json': '{"hello": 1}' }, ['$D/r.json'], new RegExp(`invalid report merge: '\\$D/r\\.json' is not a migtest results\\.json \\(no results array\\); ${MERGE_ALLOWED.source}`)),
  merge('a row without fields', { 'r.json': '{"results": [{}]}' }, ['$D/r.json'], /invalid report merge: \$D\/r\.json: results\[0\] has no suite; allowed: rows as migtest run writes them: suite, scenario, outcome/),
  merge('a row that is null', { 'r.json': `{"results": [${RESULT()}, null]}` }, ['$D/r.json'], /invalid report merge: \$D\/r\.json: results\[1\] has no suite/),
  merge('a row with a bad outcome', { 'r.json': `{"results": [${RESULT({ outcome: 'meh' })}]}` }, ['$D/r.json'], /invalid report merge: \$D\/r\.json: results\[0\]: outcome "meh"; allowed: passed, failed, skipped/),
  merge('a results.jsonl with a bad line', { 'run/': null, 'run/results.jsonl': `${RESULT()}\n{oops\n` }, ['$D/run'], /invalid report merge: \$D\/run\/results\.jsonl line 2 is not valid JSON/),
  merge('a missing path', {}, ['$D/none.json'], /invalid report merge: '\$D\/none\.json' has no results\.json or results\.jsonl; allowed: a results\.json, a directory with one/),
  merge('a directory without results', { 'empty/': null }, ['$D/empty'], /invalid report merge: '\$D\/empty' has no results\.json or results\.jsonl/),
  merge('--out onto a file', { 'r.json': '{"results": []}', out: 'a file' }, ['$D/r.json', '--out', '$D/out'], /invalid --out: '\$D\/out' is a file; allowed: a directory \(made if missing\)/),
  merge('--out under a file', { 'r.json': '{"results": []}', afile: 'x' }, ['$D/r.json', '--out', '$D/afile/sub'], /invalid --out: '\$D\/afile\/sub' cannot be made \(ENOTDIR\); allowed: a directory \(made if missing\)/),

  // --- repro ---
  repro('a directory without argv files', { 'sc/': null }, ['$D/sc'], /invalid repro: '\$D\/sc' has no src\.argv\.json and dst\.argv\.json; allowed: a scenario's artifacts directory from a pair migration/),
  repro('a malformed argv file', scenario('[not json'), ['$D/sc'], new RegExp(`invalid repro: \\$D/sc/src\\.argv\\.json is not valid JSON \\(.*\\); ${AS_WRITTEN.source}`)),
  repro('an argv file that is not a list of strings', scenario('{"a": 1}'), ['$D/sc'], new RegExp(`invalid repro: \\$D/sc/src\\.argv\\.json is not an argv \\(a list of strings\\); ${AS_WRITTEN.source}`)),
  repro('an empty argv list', scenario('[]'), ['$D/sc'], /invalid repro: \$D\/sc\/src\.argv\.json is not an argv \(a list of strings\)/),
  repro('--out into a missing directory', scenario(), ['$D/sc', '--out', '$D/no/such/repro.py'], /invalid --out: '\$D\/no\/such\/repro\.py': its folder \$D\/no\/such does not exist; allowed: a file in an existing, writable folder/),
  repro('--out onto a directory', scenario(), ['$D/sc', '--out', '$D/sc'], /invalid --out: '\$D\/sc' is a directory; allowed: a file path/),
  repro('--qemu not installed', scenario(), ['$D/sc', '--qemu', '9.9'], new RegExp(`invalid qemu version for x86_64: '9\\.9' ${INSTALLED.source}`)),
  repro('--qemu empty', scenario(), ['$D/sc', '--qemu', ''], new RegExp(`invalid --qemu: is empty; ${QEMU_FORMS.source}`)),
  repro('--src-qemu when the argv names no qemu-system binary', scenario(JSON.stringify(['/opt/emu', '-m', '1G'])), ['$D/sc', '--src-qemu', 'system'], /invalid repro: cannot tell the arch of '\$D\/sc' from src\.argv\.json/),
  repro('--image a missing directory', scenario(), ['$D/sc', '--image', '$D/noimage'], /invalid --image: '\$D\/noimage' has no vmlinuz \(the kernel\); allowed: a guest image folder as `migtest images build` makes it/),
  repro('--image without a root disk', { ...scenario(), 'img/': null, 'img/vmlinuz': 'k', 'img/initrd.img': 'i' }, ['$D/sc', '--image', '$D/img'], /invalid --image: '\$D\/img' has no root\.qcow2 \(the rootDisk\)/),
  repro('an fd-transport scenario', { ...scenario(), 'sc/case.json': '{"case":{"migration":{"transport":"fd"}}}' }, ['$D/sc'], /invalid repro: '\$D\/sc' migrated over the fd: transport, .*; allowed: a scenario over tcp, unix, exec or file/),
];
