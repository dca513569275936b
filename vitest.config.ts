import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests start their own redis-server and emulator; two cores on CI.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
