import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./harness/testing/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['harness/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['suites/**/*.test.ts'],
          // Two cores: QEMU pairs from several files at once would starve each other under TCG.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
