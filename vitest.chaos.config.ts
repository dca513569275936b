import { defineConfig } from 'vitest/config';

/**
 * The chaos suite (`npm run test:chaos`): whole rollouts through a Redis restart, killed workers and
 * a Graph outage. Each file runs minutes, not seconds, and leans on timing (lock expiry, settle
 * delays), so files run one at a time: two on a 2-core machine would starve each other's workers.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
