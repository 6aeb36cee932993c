import { defineConfig } from 'vitest/config';
import { runConfig } from './harness/util/run-config.js';
import CostSequencer from './harness/testing/sequencer.js';

// migtest run --jobs (MIGTEST_JOBS): suite files at once; 1 by default.
const jobs = runConfig().jobs;

export default defineConfig({
  test: {
    globalSetup: ['./harness/testing/global-setup.ts'],
    // Suite files longest first by their measured cost (config/suite-costs.json), not by size.
    sequence: { sequencer: CostSequencer },
    projects: [
      {
        extends: true,
        // Unit tests first, then the suites: groups of their own, as their worker counts differ.
        test: { name: 'unit', include: ['harness/**/*.test.ts'], testTimeout: 60_000, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['suites/**/*.test.ts'],
          // One file at a time unless asked: on 2 cores, QEMU pairs of several files at once
          // compete for the CPU under TCG.
          fileParallelism: jobs > 1,
          // A process per worker (vitest's default, pinned): a row's CPU is its worker's and
          // its children's (harness/testing/scenario.ts).
          pool: 'forks',
          maxWorkers: jobs,
          sequence: { groupOrder: 1 },
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
