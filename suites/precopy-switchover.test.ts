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
});
