import { defineConfig } from 'vitest/config';

/** Browser tests drive a real Chromium against a real server; `npm run test:browser` runs them. */
export default defineConfig({
  test: {
    globalSetup: ['test/support/build-web.ts'],
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
