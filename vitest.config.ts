import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // `x.chaos.test.ts` ends in `.test.ts` too; the chaos suite runs alone (`npm run test:chaos`).
    exclude: [...configDefaults.exclude, 'test/chaos/**'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests start their own redis-server and emulator; two cores on CI.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
