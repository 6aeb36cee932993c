import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseHostsFile, sharedDirs, sshTarget } from './hosts-file.js';
import { knownHostKeys } from './ssh/host.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJ1oQUUy1iJsw7AGTpk34kLH47qc1EWL1h99X17MFD/';
const side = (address: string) => ({ ssh: { address, identity: '/k/id', hostKey: KEY }, migrationAddress: '10.0.0.1' });

describe('hosts file', () => {
  it('takes a source and a destination, each local or over ssh', () => {
    const f = parseHostsFile({ hosts: { src: { local: true, migrationAddress: '127.0.0.1' }, dst: side('192.0.2.7') } });
    expect(sshTarget(f, 'src')).toBeUndefined();
    expect(sshTarget(f, 'dst')).toMatchObject({ name: 'dst', address: '192.0.2.7', identityFile: '/k/id', hostKey: KEY });
  });

  it('names the bad field, before anything starts', () => {
    expect(() => parseHostsFile({ hosts: { src: side('a') } })).toThrow(/hosts\.dst/);
    expect(() => parseHostsFile({ hosts: { src: side('a'), dst: side('b'), third: side('c') } })).toThrow(/hosts: .*third|Unrecognized key/);
    expect(() => parseHostsFile({ hosts: { src: side('a'), dst: { ...side('b'), ssh: { address: 'b', identity: '/k' } } } })).toThrow(/hosts\.dst\.ssh.*exactly one of hostKey \(pinned\) and knownHosts/);
    expect(() => parseHostsFile({ hosts: { src: side('a'), dst: { ...side('b'), local: true } } })).toThrow(/hosts\.dst.*exactly one of local: true and ssh/);
    expect(() => parseHostsFile({ hosts: { src: side('a'), dst: { ...side('b'), ssh: { ...side('b').ssh, port: 70000 } } } })).toThrow(/hosts\.dst\.ssh\.port/);
  });

  it('shared storage: both hosts or neither, each saying where it mounts it', () => {
    const shared = (dir: string) => ({ sharedStorage: true, dirs: { shared: dir } });
    const f = parseHostsFile({ hosts: { src: { ...side('a'), ...shared('/mnt/a') }, dst: { ...side('b'), ...shared('/mnt/b') } } });
    expect(sharedDirs(f)).toEqual({ src: '/mnt/a', dst: '/mnt/b' });
    expect(sharedDirs(parseHostsFile({ hosts: { src: side('a'), dst: side('b') } }))).toBeUndefined();
    expect(() => parseHostsFile({ hosts: { src: { ...side('a'), sharedStorage: true }, dst: side('b') } })).toThrow(/hosts\.src\.dirs\.shared.*needs dirs\.shared/);
    expect(() => parseHostsFile({ hosts: { src: { ...side('a'), ...shared('/mnt/a') }, dst: side('b') } })).toThrow(/hosts\.dst\.sharedStorage.*same on both hosts/);
    expect(() => parseHostsFile({ hosts: { src: { ...side('a'), ...shared('mnt') }, dst: { ...side('b'), ...shared('/m') } } })).toThrow(/hosts\.src\.dirs\.shared.*absolute path/);
  });
});

describe('a host probe', () => {
  it('reads the kernel, KVM and the missing tools', async () => {
    const { parseProbe } = await import('./run-hosts.js');
    expect(parseProbe('dst 6.1.0 x86_64\nkvm=no\nmissing=nft\n')).toEqual({ uname: 'dst 6.1.0 x86_64', kvm: false, missing: ['nft'] });
    expect(parseProbe('h 6.1.0 x86_64\nkvm=yes\n')).toEqual({ uname: 'h 6.1.0 x86_64', kvm: true, missing: [] });
  });
});

describe('known_hosts', () => {
  const blob = Buffer.from(KEY.split(' ')[1]!, 'base64');
  it('finds a plain entry, a [host]:port entry and a hashed one', () => {
    expect(knownHostKeys(`other ${KEY}\n10.1.1.2,h2 ${KEY}\n`, '10.1.1.2')).toEqual([blob]);
    expect(knownHostKeys(`10.1.1.2 ${KEY}\n`, '10.1.1.2', 2222)).toEqual([]);
    expect(knownHostKeys(`[10.1.1.2]:2222 ${KEY}\n`, '10.1.1.2', 2222)).toEqual([blob]);
    const salt = Buffer.from('0123456789abcdefghij');
    const hash = createHmac('sha1', salt).update('10.1.1.2').digest('base64');
    expect(knownHostKeys(`|1|${salt.toString('base64')}|${hash} ${KEY}\n# comment\n`, '10.1.1.2')).toEqual([blob]);
    expect(knownHostKeys(`|1|${salt.toString('base64')}|${hash} ${KEY}\n`, '10.1.1.3')).toEqual([]);
  });
});

describe('a remote exit status', () => {
  it("sh's 128 + n is the signal n, as a local exit says it; others are exit codes", async () => {
    const { shellExit } = await import('./ssh/process.js');
    expect(shellExit(137)).toEqual({ code: undefined, signal: 'SIGKILL' });
    expect(shellExit(143)).toEqual({ code: undefined, signal: 'SIGTERM' });
    expect(shellExit(1)).toEqual({ code: 1, signal: undefined });
    expect(shellExit(0)).toEqual({ code: 0, signal: undefined });
  });
});
