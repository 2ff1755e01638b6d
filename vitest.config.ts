import { defineConfig } from 'vitest/config';

/**
 * `npm test`: the server's tests (API, services, data layer, CLI) on the database that
 * RAMPART_TEST_DATABASE_URL names (SQLite by default), and the web app's component tests.
 * The browser tests have their own config (npm run test:browser).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'server',
          globalSetup: ['test/support/build-web.ts'],
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/browser/**', 'node_modules/**', 'dist/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
      'web/vitest.config.ts',
    ],
  },
});
