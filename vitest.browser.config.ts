import { defineConfig } from 'vitest/config';

/** Browser tests drive a real Chromium against a real server; `npm run test:browser` runs them. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
