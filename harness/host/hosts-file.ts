import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { configErrorFrom, readYamlFile } from '../util/zod.js';
import type { SshTarget } from './ssh/host.js';

/** A host name: dot-separated labels of letters, digits, '-' (and '_', which some resolvers take). */
const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** An IPv4 address has four numbers up to 255; a name or IPv6 passes here and is resolved at connect. */
const address = z
  .string()
  .min(1)
  .refine((a) => !/^\d+(\.\d+){3}$/.test(a) || a.split('.').every((n) => Number(n) <= 255), (a) => ({ message: `'${a}' is not an IPv4 address (each number is 0 to 255)` }))
  // Anything else is an IPv6 address or a host name (letters, digits, '-' and '.'): a space or a URL is a mistake, said now.
  .refine((a) => /^\d+(\.\d+){3}$/.test(a) || isIP(a) === 6 || HOST_NAME.test(a), (a) => ({ message: `'${a}' is neither an IPv4 or IPv6 address nor a host name (letters, digits, '-' and '.')` }));

const sshKeys = z
  .object({
    address,
    port: z.number().int().min(1).max(65535).optional(),
    user: z.string().min(1).optional(),
    identity: z.string().min(1),
    hostKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/, 'a public key line: "ssh-ed25519 AAAA..."').optional(),
    knownHosts: z.string().min(1).optional(),
    keepaliveMs: z.number().int().min(200).optional(),
    keepaliveCountMax: z.number().int().min(1).optional(),
    maxSessions: z.number().int().min(1).max(64).optional(),
  })
  .strict();
const ssh = sshKeys.refine((s) => !!s.hostKey !== !!s.knownHosts, 'exactly one of hostKey (pinned) and knownHosts: a host key is always verified');

const dirsKeys = z
  .object({
    images: z.string().min(1).optional(),
    artifacts: z.string().min(1).optional(),
    qemu: z.string().min(1).optional(),
    /** Where this host mounts the storage both hosts share (NFS and the like): an absolute path. */
    shared: z.string().regex(/^\//, 'an absolute path').optional(),
  })
  .strict();

const hostKeys = z
  .object({
    /** On this machine (no ssh); or reached over ssh. */
    local: z.literal(true).optional(),
    ssh: ssh.optional(),
    /** The address the other host reaches this one's migration listener on. */
    migrationAddress: address,
    dirs: dirsKeys.optional(),
    /** Whether this host sees the shared storage at dirs.shared (one image both QEMUs open); else each side has its own images. */
    sharedStorage: z.boolean().optional(),
  })
  .strict();
const host = hostKeys
  .refine((h) => !!h.local !== !!h.ssh, 'exactly one of local: true and ssh: {...}')
  .refine((h) => !h.sharedStorage || !!h.dirs?.shared, { message: 'sharedStorage: true needs dirs.shared (where this host mounts it)', path: ['dirs', 'shared'] });

export const hostsFileSchema = z
  .object({ hosts: z.object({ src: host, dst: host }).strict() })
  .strict()
  .refine((f) => !!f.hosts.src.sharedStorage === !!f.hosts.dst.sharedStorage, {
    message: 'sharedStorage must be the same on both hosts (true: both mount it at their dirs.shared; false: neither)',
    path: ['hosts', 'dst', 'sharedStorage'],
  });

export type HostsFile = z.infer<typeof hostsFileSchema>;
export type HostEntry = HostsFile['hosts']['src'];
export type Role = keyof HostsFile['hosts'];

/** `~` at the start of a path is the user's home, as in a shell. */
const expandHome = (p: string) => p.replace(/^~(?=\/|$)/, homedir());

/**
 * Reads and checks a hosts file; a bad field is named with what it allows, before anything
 * starts: `~` in its paths is expanded, and each identity and known_hosts file must be a
 * readable file.
 */
export function loadHostsFile(file: string): HostsFile & { file: string } {
  const full = resolve(expandHome(file));
  if (!existsSync(full)) throw new ConfigError('--hosts', `'${file}' does not exist`, 'a hosts file (YAML; `migtest hosts up` writes one)');
  const f = parseHostsFile(readYamlFile(full, 'hosts file'), full);
  for (const role of ['src', 'dst'] as const) {
    const s = f.hosts[role].ssh;
    if (!s) continue;
    s.identity = expandHome(s.identity);
    if (s.knownHosts) s.knownHosts = expandHome(s.knownHosts);
    for (const [field, path] of [['identity', s.identity], ['knownHosts', s.knownHosts]] as const) {
      if (!path) continue;
      if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError(`${full}: hosts.${role}.ssh.${field}`, `'${path}' is not a file`, field === 'identity' ? 'the private key file ssh authenticates with' : 'a known_hosts file');
    }
    const dirs = f.hosts[role].dirs;
    if (dirs) for (const k of ['images', 'artifacts', 'qemu', 'shared'] as const) if (dirs[k]) dirs[k] = expandHome(dirs[k]!);
  }
  return { ...f, file: full };
}

export function parseHostsFile(raw: unknown, source = 'hosts file'): HostsFile {
  const r = hostsFileSchema.safeParse(raw);
  if (!r.success) throw configErrorFrom(r.error.issues[0]!, source, keysAt);
  return r.data;
}

/** The keys allowed where an unknown one was found: the file's, a host's, its ssh's or its dirs'. */
function keysAt(path: PropertyKey[]): string[] {
  if (path.length === 0) return ['hosts'];
  if (path.length === 1) return ['src', 'dst'];
  if (path[2] === 'ssh') return Object.keys(sshKeys.shape);
  if (path[2] === 'dirs') return Object.keys(dirsKeys.shape);
  return Object.keys(hostKeys.shape);
}

/** Where each host mounts the shared storage, when the hosts have some. */
export function sharedDirs(f: HostsFile): Record<Role, string> | undefined {
  const { src, dst } = f.hosts;
  return src.sharedStorage && dst.sharedStorage ? { src: src.dirs!.shared!, dst: dst.dirs!.shared! } : undefined;
}

/** The ssh target of one role, for SshHost.connect. */
export function sshTarget(f: HostsFile & { file?: string }, role: Role): SshTarget | undefined {
  const s = f.hosts[role].ssh;
  if (!s) return undefined;
  return {
    name: role,
    address: s.address,
    port: s.port,
    user: s.user,
    identityFile: s.identity,
    hostKey: s.hostKey,
    knownHosts: s.knownHosts,
    keepalive: s.keepaliveMs ? { intervalMs: s.keepaliveMs, countMax: s.keepaliveCountMax ?? 3 } : undefined,
    maxSessions: s.maxSessions,
    hostsFile: f.file,
  };
}
