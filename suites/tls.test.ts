import { describe, expect } from 'vitest';
import { caseScenario, CLIENT_IDENTITY, fault, testArches, when, type CaseReport, type MigrationCase, type TlsSpec } from '../harness/index.js';

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

  // Hostile: the migration fails, the source runs on with its RAM intact, and QEMU says why.
  const refused = (id: string, tls: TlsSpec, words: RegExp) =>
    caseScenario(over(id, tls, { expect: { kind: 'fails', status: 'failed', why: 'TLS refuses it' }, retry: false }), meta, async ({ outcome, run }) => {
      const said = [outcome.kind === 'failed' ? (outcome.error ?? '') : '', ...run.dst.stderrErrors(), ...run.src.stderrErrors()].join('\n');
      expect(said).toMatch(words);
      expect((await run.src.status()).status).toBe('running');
      return { extra: { qemuSaid: said.split('\n').filter((l) => words.test(l)).slice(0, 2) } };
    });
  refused('a wrong psk is refused', { creds: 'psk', wrongKey: true }, /TLS handshake failed: /);
  refused('a server certificate for another hostname is refused by the source', { creds: 'x509', hostname: 'wrong.example' }, /does not match the hostname wrong\.example/);
  refused('a client certificate tls-authz does not allow is refused by the destination', { creds: 'x509', authz: 'CN=someone-else' }, /TLS x509 authz check for CN=migtest-client is denied/);
  refused('an anonymous client is refused by an x509 destination', { creds: 'x509', client: 'anon' }, /TLS handshake failed: No supported cipher suites have been found/);
});
