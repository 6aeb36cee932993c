import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../util/errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';

/**
 * TLS for a migration: credentials generated at run time, placed on each side's host,
 * loaded with object-add, named by the tls-* parameters. The hostile variants are fields.
 */
export interface TlsSpec {
  creds: 'x509' | 'psk';
  /**
   * x509: what the source presents: its client certificate (default); `no-cert`: x509
   * credentials with the CA only (qtest's anonymous client); `anon`: anonymous credentials.
   */
  client?: 'x509' | 'no-cert' | 'anon';
  /** x509: the source's tls-hostname (default: the address it connects to, in the server certificate). */
  hostname?: string;
  /** x509: the destination's tls-authz: an authz-simple allowing this client identity ("CN=migtest-client" is the source's). */
  authz?: string;
  /** psk: the source's key is another one than the destination's. */
  wrongKey?: boolean;
  /**
   * x509: your own certificates instead of ones made at run time: a directory with QEMU's
   * file names (ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem).
   */
  certs?: string;
  /** x509 made at run time: keyUsage keyEncipherment on the leaf certificates (default on; RSA key exchange needs it). */
  keyEncipherment?: boolean;
  /** x509 made at run time: the names the server certificate is for (default: the address the source connects to, 127.0.0.1, localhost). */
  certFor?: string[];
  /** x509: the destination verifies the client's certificate (default); false lets an anonymous client in. */
  verifyPeer?: boolean;
}

export const CLIENT_IDENTITY = 'CN=migtest-client';

interface X509Set {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A user's own dh-params.pem, if their directory has one. */
  dhParams?: string;
}

/**
 * Sets made in this process, by what they were made for: three RSA keys cost ~0.7 s of CPU
 * under load, and every TLS case wants one. Each case still gets its own copies in its own
 * private directories. Remade after an hour (they are valid for two days).
 */
const made = new Map<string, { at: number; set: Promise<X509Set> }>();

/** A CA, a server certificate for `addresses` and a client certificate, with openssl (RSA; keyEncipherment unless asked not to). */
export function generateX509(addresses: string[], opts: { keyEncipherment?: boolean } = {}): Promise<X509Set> {
  const key = JSON.stringify([addresses, opts.keyEncipherment !== false]);
  const hit = made.get(key);
  if (hit && Date.now() - hit.at < 3_600_000) return hit.set;
  const set = makeX509(addresses, opts);
  made.set(key, { at: Date.now(), set });
  set.catch(() => made.delete(key));
  return set;
}

async function makeX509(addresses: string[], opts: { keyEncipherment?: boolean }): Promise<X509Set> {
  const d = mkdtempSync(join(tmpdir(), 'migtest-tls-'));
  try {
    const ssl = (...args: string[]) => execa('openssl', args, { cwd: d });
    const ext = (name: string, body: string) => writeFileSync(join(d, name), body);
    await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca-cert.pem', '-days', '2', '-subj', '/CN=migtest CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const san = addresses.map((a) => (/^[\d.]+$|:/.test(a) ? `IP:${a}` : `DNS:${a}`)).join(',');
    const usage = opts.keyEncipherment === false ? 'digitalSignature' : 'digitalSignature,keyEncipherment';
    ext('server.ext', `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,${usage}\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
    ext('client.ext', `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,${usage}\nextendedKeyUsage=clientAuth\n`);
    for (const [who, cn] of [['server', 'migtest-server'], ['client', CLIENT_IDENTITY.slice(3)]] as const) {
      await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=${cn}`);
      await ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca-cert.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${who}-cert.pem`, '-days', '2', '-extfile', `${who}.ext`);
    }
    const read = (f: string) => readFileSync(join(d, f), 'utf8');
    return { ca: read('ca-cert.pem'), serverCert: read('server-cert.pem'), serverKey: read('server-key.pem'), clientCert: read('client-cert.pem'), clientKey: read('client-key.pem') };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

let dhParams: Promise<string> | undefined;

/**
 * The server's Diffie-Hellman parameters (RFC 7919's ffdhe2048 group, made in ~20 ms): without
 * a dh-params.pem in its directory QEMU generates some at object-add, 0.1 to 0.8 s under TCG
 * load (measured on 10.0.2), for every TLS migration.
 */
export function serverDhParams(): Promise<string> {
  dhParams ??= execa('openssl', ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048']).then((r) => r.stdout + '\n');
  dhParams.catch(() => (dhParams = undefined));
  return dhParams;
}

/** Certificates a user brings, in QEMU's file names; a missing one is named. */
export function readX509(dir: string): X509Set {
  const read = (f: string) => {
    const path = join(dir, f);
    if (!existsSync(path)) throw new ConfigError('tls.certs', `${path} does not exist`, 'a directory with ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem');
    return readFileSync(path, 'utf8');
  };
  const dh = join(dir, 'dh-params.pem');
  return { ca: read('ca-cert.pem'), serverCert: read('server-cert.pem'), serverKey: read('server-key.pem'), clientCert: read('client-cert.pem'), clientKey: read('client-key.pem'), dhParams: existsSync(dh) ? readFileSync(dh, 'utf8') : undefined };
}

/** Writes files into a fresh private directory on the VM's host; removed with the scope. */
async function placeFiles(scope: Scope, vm: StartedVm, files: Record<string, string>): Promise<string> {
  const dir = await vm.on.privateDir(`tls-${vm.name}`);
  scope.track({ stop: () => dir.cleanup() });
  for (const [name, text] of Object.entries(files)) await vm.on.writeFile(join(dir.path, name), text, 0o600);
  return dir.path;
}

/**
 * Credentials on both sides (object-add `tls0`, and `authz0` for tls-authz) and the tls-*
 * parameters: the destination the server, the source the client. `connectTo` is the
 * address the source will connect to (what the server certificate names).
 */
export async function setupTls(scope: Scope, src: StartedVm, dst: StartedVm, spec: TlsSpec, connectTo: string): Promise<{ identity?: string }> {
  const srcParams: Record<string, unknown> = { 'tls-creds': 'tls0' };
  const dstParams: Record<string, unknown> = { 'tls-creds': 'tls0' };
  if (spec.creds === 'psk') {
    const key = randomBytes(32).toString('hex');
    const dstDir = await placeFiles(scope, dst, { 'keys.psk': `qemu:${key}\n`, 'dh-params.pem': await serverDhParams() });
    const srcDir = await placeFiles(scope, src, { 'keys.psk': `qemu:${spec.wrongKey ? randomBytes(32).toString('hex') : key}\n` });
    await dst.qmp.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 'tls0', endpoint: 'server', dir: dstDir });
    await src.qmp.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 'tls0', endpoint: 'client', dir: srcDir, username: 'qemu' });
  } else {
    const x = spec.certs ? readX509(spec.certs) : await generateX509(spec.certFor ?? [...new Set([connectTo, '127.0.0.1', 'localhost'])], { keyEncipherment: spec.keyEncipherment });
    const dstDir = await placeFiles(scope, dst, { 'ca-cert.pem': x.ca, 'server-cert.pem': x.serverCert, 'server-key.pem': x.serverKey, 'dh-params.pem': x.dhParams ?? (await serverDhParams()) });
    await dst.qmp.execute('object-add', { 'qom-type': 'tls-creds-x509', id: 'tls0', endpoint: 'server', dir: dstDir, 'verify-peer': spec.verifyPeer ?? true });
    if (spec.client === 'anon') {
      await src.qmp.execute('object-add', { 'qom-type': 'tls-creds-anon', id: 'tls0', endpoint: 'client' });
    } else {
      const mine: Record<string, string> = spec.client === 'no-cert' ? {} : { 'client-cert.pem': x.clientCert, 'client-key.pem': x.clientKey };
      const srcDir = await placeFiles(scope, src, { 'ca-cert.pem': x.ca, ...mine });
      await src.qmp.execute('object-add', { 'qom-type': 'tls-creds-x509', id: 'tls0', endpoint: 'client', dir: srcDir });
    }
    if (spec.hostname) srcParams['tls-hostname'] = spec.hostname;
    if (spec.authz) {
      await dst.qmp.execute('object-add', { 'qom-type': 'authz-simple', id: 'authz0', identity: spec.authz });
      dstParams['tls-authz'] = 'authz0';
    }
  }
  await dst.qmp.execute('migrate-set-parameters', dstParams);
  await src.qmp.execute('migrate-set-parameters', srcParams);
  return { identity: spec.creds === 'x509' && !spec.client ? CLIENT_IDENTITY : undefined };
}
