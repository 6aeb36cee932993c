import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { resolveAccel } from '../qemu/accel.js';
import { findImage } from '../images/build.js';
import { ARCHES } from '../util/arch.js';
import { listBinaries, versionMatches } from '../qemu/catalog.js';
import { FETCHABLE } from '../qemu/fetch.js';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

const SETUP = 'sudo bash ci/setup.sh';

async function tool(name: string, args: string[], pkg: string): Promise<Check> {
  const r = await execa(name, args, { reject: false, timeout: 10_000 });
  // exitCode is undefined only when the program could not be started at all.
  if (r.exitCode === undefined) return { name, status: 'fail', detail: 'not found', fix: `apt-get install ${pkg} (or ${SETUP})` };
  return { name, status: 'ok', detail: `${r.stdout}\n${r.stderr}`.trim().split('\n')[0]!.slice(0, 80) };
}

/** Every prerequisite, each with the fix when it is missing. */
export async function doctor(): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push(
    major >= 20
      ? { name: 'node', status: 'ok', detail: process.version }
      : { name: 'node', status: 'fail', detail: process.version, fix: 'install Node.js 20 or newer' },
  );
  const bins = await listBinaries(true);
  for (const arch of ARCHES) {
    const mine = bins.filter((b) => b.arch === arch);
    checks.push(
      mine.length
        ? { name: `qemu-system-${arch}`, status: 'ok', detail: mine.map((b) => `${b.version} (${b.source}: ${b.path})`).join('; ') }
        : {
            name: `qemu-system-${arch}`,
            status: 'fail',
            detail: 'not installed',
            fix: `apt-get install -t bookworm-backports ${arch === 'x86_64' ? 'qemu-system-x86' : 'qemu-system-arm'} (or ${SETUP})`,
          },
    );
  }
  // Cross-version suites and compat grids use every fetched version; a missing one is a warning, not a failure.
  const missing = Object.keys(FETCHABLE).filter((v) => !bins.some((b) => b.source === 'cache' && versionMatches(b.version, v)));
  checks.push(
    missing.length
      ? { name: 'fetched QEMUs', status: 'warn', detail: `not fetched: ${missing.join(', ')}`, fix: `node bin/migtest.mjs qemu fetch ${missing.join(' ')}` }
      : { name: 'fetched QEMUs', status: 'ok', detail: Object.entries(FETCHABLE).map(([v, s]) => `${v} (${s})`).join(', ') },
  );
  checks.push(await tool('qemu-img', ['--version'], 'qemu-utils'));
  checks.push(await tool('qemu-io', ['--version'], 'qemu-utils'));
  checks.push(await tool('bridge', ['-V'], 'iproute2'));
  checks.push(await tool('socat', ['-V'], 'socat'));
  checks.push(await tool('mmdebstrap', ['--version'], 'mmdebstrap'));
  checks.push(await tool('mkfs.ext4', ['-V'], 'e2fsprogs'));
  checks.push(await tool('cpio', ['--version'], 'cpio'));
  checks.push(await tool('depmod', ['--version'], 'kmod'));
  checks.push(await tool('ip', ['-V'], 'iproute2'));
  checks.push(await tool('ssh', ['-V'], 'openssh-client'));
  checks.push(await tool('python3', ['--version'], 'python3'));
  const nft = await execa('nft', ['list', 'tables'], { reject: false });
  checks.push(
    nft.exitCode === 0
      ? { name: 'nftables', status: 'ok', detail: 'nft list tables works' }
      : { name: 'nftables', status: 'warn', detail: nft.stderr.split('\n')[0] || 'nft not found', fix: 'apt-get install nftables; run as root (partition faults need it)' },
  );
  checks.push(await netnsCheck());
  const x86 = bins.find((b) => b.arch === 'x86_64' && b.source === 'system');
  if (x86) {
    const d = await resolveAccel('auto', x86);
    checks.push({
      name: 'kvm',
      status: d.accel === 'kvm' ? 'ok' : 'warn',
      detail: d.accel === 'kvm' ? `usable (${d.reason})` : `not usable, TCG will be used: ${d.reason}`,
      fix: d.accel === 'kvm' ? undefined : 'enable virtualization / nested KVM on this host; tests run (slower) under TCG',
    });
  }
  checks.push(userfaultfd());
  checks.push(
    existsSync('/dev/vhost-net')
      ? { name: 'vhost-net', status: 'ok', detail: '/dev/vhost-net present' }
      : { name: 'vhost-net', status: 'warn', detail: '/dev/vhost-net absent: vhost tests are skipped', fix: 'modprobe vhost_net' },
  );
  for (const arch of ARCHES) {
    const img = findImage(arch);
    checks.push(
      img
        ? { name: `image default/${arch}`, status: 'ok', detail: `kernel ${img.kernelVersion}, ${img.rootDisk}` }
        : { name: `image default/${arch}`, status: 'warn', detail: 'not built yet (built on first use)', fix: `migtest images build --arch ${arch}` },
    );
  }
  return checks;
}

function userfaultfd(): Check {
  if (process.getuid?.() === 0) return { name: 'userfaultfd', status: 'ok', detail: 'running as root (postcopy works)' };
  try {
    if (readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim() === '1')
      return { name: 'userfaultfd', status: 'ok', detail: 'unprivileged_userfaultfd=1' };
  } catch {
    /* fall through */
  }
  return {
    name: 'userfaultfd',
    status: 'warn',
    detail: 'not root and unprivileged_userfaultfd=0: postcopy tests will fail',
    fix: 'sysctl vm.unprivileged_userfaultfd=1, or run as root',
  };
}

/** Partition faults put the QEMUs in two namespaces joined by veth: try making one. */
async function netnsCheck(): Promise<Check> {
  const name = `migtest_doctor_${process.pid}`;
  const add = await execa('ip', ['netns', 'add', name], { reject: false });
  if (add.exitCode !== 0)
    return { name: 'network namespaces', status: 'warn', detail: add.stderr.trim() || 'ip netns add failed', fix: 'run as root (partition faults need ip netns and veth)' };
  const veth = await execa('ip', ['-n', name, 'link', 'add', 'mt0', 'type', 'veth', 'peer', 'name', 'mt1'], { reject: false });
  await execa('ip', ['netns', 'del', name], { reject: false });
  return veth.exitCode === 0
    ? { name: 'network namespaces', status: 'ok', detail: 'ip netns and veth work (partition faults)' }
    : { name: 'network namespaces', status: 'warn', detail: veth.stderr.trim(), fix: 'modprobe veth' };
}

export function formatChecks(checks: Check[]): string {
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  return checks
    .map((c) => `${mark[c.status]} ${c.name.padEnd(24)} ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`)
    .join('\n');
}
