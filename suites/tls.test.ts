import { describe, expect } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caseScenario, CLIENT_IDENTITY, fault, generateX509, testArches, when, type CaseReport, type MigrationCase, type TlsSpec } from '../harness/index.js';

// Migration over TLS with credentials made at run time (openssl for x509, random psk keys),
// loaded with object-add on each side's host. Then what must be refused, in QEMU's words.
describe.each(testArches())('tls %s', (arch) => {
  const meta = { suite: 'tls' };
  const mbps: Record<string, number | undefined> = {};
  const over = (id: string, tls: TlsSpec | undefined, more: Partial<MigrationCase> = {}): MigrationCase => ({ id, arch, ...more, migration: { ...more.migration, ...(tls ? { tls } : {}) } });
  const cost = (name: string) => async (r: CaseReport) => {
    // Both sides named the credentials: the stream was TLS (the refused cases show it is enforced).
    if (name !== 'plain')
      for (const vm of [r.run.src, r.run.dst]) expect((await vm.qmp.execute<Record<string, unknown>>('query-migrate-parameters'))['tls-creds']).toBe('tls0');
    mbps[name] = r.figures.throughputMbps;
    const plain = mbps.plain;
    return { extra: { tls: name, ...(plain && r.figures.throughputMbps && name !== 'plain' ? { plainMbps: plain, tlsThroughputVsPlainPct: Math.round((100 * r.figures.throughputMbps) / plain) } : {}) } };
  };

  caseScenario(over('plain precopy, the baseline for the cost of TLS', undefined), meta, cost('plain'));
  caseScenario(over('precopy over TLS, x509: client certificate verified, tls-authz allows its identity', { creds: 'x509', authz: CLIENT_IDENTITY }), meta, cost('x509'));
  caseScenario(over('precopy over TLS, psk', { creds: 'psk' }), meta, cost('psk'));
  caseScenario(over('multifd over TLS, x509', { creds: 'x509' }, { migration: { capabilities: { multifd: true } } }), meta, cost('multifd x509'));
  caseScenario(
    over('postcopy recovery over TLS, x509: the bridge killed mid-postcopy, the new channel TLS again', { creds: 'x509' }, {
      migration: { mode: 'recovery' },
      faults: [fault.killBridge(when.progress('postcopy-active', 0.2))],
    }),
    meta,
    ({ episodes }) => void expect(episodes).toHaveLength(1),
  );

  // The names and peers QEMU checks, as qtest's tls/x509 cases: a certificate for a name the
  // source names with tls-hostname; an anonymous client an x509 destination lets in; a unix
  // socket, which gives no hostname unless tls-hostname does; certificates the user brings.
  const named: TlsSpec = { creds: 'x509', certFor: ['migtest.example'], hostname: 'migtest.example' };
  caseScenario(over('x509 with tls-hostname naming the certificate (not the address) migrates', named), meta);
  caseScenario(over('a client without a certificate migrates to an x509 destination that does not verify peers', { creds: 'x509', client: 'no-cert', verifyPeer: false }), meta);
  caseScenario(over('x509 over a unix socket with tls-hostname naming the certificate migrates', named, { migration: { transport: 'unix' } }), meta);
  // Certificates without keyEncipherment: refused when loaded before 10.2 (10.1.3), accepted
  // since; the expectation is computed from the version data (qemu/behaviour.ts).
  caseScenario(over('x509 certificates without keyEncipherment: refused when loaded where QEMU requires it, else migrate', { creds: 'x509', keyEncipherment: false }), meta);
  const own = join(tmpdir(), `migtest-own-certs-${process.pid}-${arch}`);
  caseScenario(over('x509 with certificates the user brings (a directory in QEMU\'s file names) migrates', { creds: 'x509', certs: own }, {
    hooks: {
      // Made here as a user would have them: a CA, and server and client certificates, in QEMU's names.
      start: async ({ scope }) => {
        const x = await generateX509(['127.0.0.1', 'localhost']);
        mkdirSync(own, { recursive: true, mode: 0o700 });
        scope.track({ stop: async () => rmSync(own, { recursive: true, force: true }) });
        for (const [f, t] of Object.entries({ 'ca-cert.pem': x.ca, 'server-cert.pem': x.serverCert, 'server-key.pem': x.serverKey, 'client-cert.pem': x.clientCert, 'client-key.pem': x.clientKey })) writeFileSync(join(own, f), t, { mode: 0o600 });
      },
    },
    oneHost: 'the certificates are a directory on this machine',
  }), meta);

  // Hostile: the migration fails, the source runs on with its RAM intact, and QEMU says why.
  const refused = (id: string, tls: TlsSpec, words: RegExp, migration: MigrationCase['migration'] = {}) =>
    caseScenario(over(id, tls, { migration, expect: { kind: 'fails', status: 'failed', why: 'TLS refuses it' }, retry: false }), meta, async ({ outcome, run }) => {
      const said = [outcome.kind === 'failed' ? (outcome.error ?? '') : '', ...run.dst.stderrErrors(), ...run.src.stderrErrors()].join('\n');
      expect(said).toMatch(words);
      expect((await run.src.status()).status).toBe('running');
      return { extra: { qemuSaid: said.split('\n').filter((l) => words.test(l)).slice(0, 2) } };
    });
  refused('a wrong psk is refused', { creds: 'psk', wrongKey: true }, /TLS handshake failed: /);
  refused('a server certificate for another hostname is refused by the source', { creds: 'x509', hostname: 'wrong.example' }, /does not match the hostname wrong\.example/);
  refused('a client certificate tls-authz does not allow is refused by the destination', { creds: 'x509', authz: 'CN=someone-else' }, /TLS x509 authz check for CN=migtest-client is denied/);
  refused('an anonymous client is refused by an x509 destination', { creds: 'x509', client: 'anon' }, /TLS handshake failed: No supported cipher suites have been found/);
  refused('a client without a certificate is refused by an x509 destination that verifies peers', { creds: 'x509', client: 'no-cert' }, /TLS handshake failed|No certificate was found|peer did not send/i);
  refused('x509 over a unix socket without tls-hostname is refused: no hostname to check', { creds: 'x509' }, /No hostname for certificate validation/, { transport: 'unix' });
  refused('multifd over x509 with a certificate for another hostname is refused', { creds: 'x509', hostname: 'wrong.example' }, /does not match the hostname wrong\.example/, { capabilities: { multifd: true } });
});
