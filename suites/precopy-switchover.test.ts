import { describe, expect } from 'vitest';
import { caseScenario, testArches, type MigratingRun } from '../harness/index.js';

describe.each(testArches())('precopy-switchover %s', (arch) => {
  let seen: { src: string; srcRunning: boolean; dst: string } | undefined;
  // Held at pre-switchover: source stopped, destination not yet running.
  const beforeSwitchover = async ({ src, dst }: MigratingRun) => {
    seen = { src: (await src.queryMigrate()).status ?? '', srcRunning: (await src.status()).running, dst: (await dst.status()).status };
  };
  caseScenario({ id: 'pause-before-switchover, then migrate-continue', arch, hooks: { beforeSwitchover } }, { suite: 'precopy-switchover' }, () =>
    void expect(seen).toEqual({ src: 'pre-switchover', srcRunning: false, dst: 'inmigrate' }),
  );

  // switchover-ack (8.1+, with return-path): the source waits for the destination's ack before
  // it stops the guest. 11.1 reworked the protocol for new machine types: on the newest type
  // and on an older versioned one (8.2) it must migrate either way.
  const ack = { capabilities: { 'return-path': true, 'switchover-ack': true } };
  caseScenario({ id: "switchover-ack on the binary's newest machine type", arch, migration: ack }, { suite: 'precopy-switchover' });
  caseScenario({ id: 'switchover-ack on the 8.2 machine type', arch, source: { machine: arch === 'x86_64' ? 'pc-q35-8.2' : 'virt-8.2' }, migration: ack }, { suite: 'precopy-switchover' });
});
