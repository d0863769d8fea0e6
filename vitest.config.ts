import { defineConfig } from 'vitest/config'

/** The end-to-end suites: each starts 5 guardian processes (and local chains) of its own. */
const E2E = 'testnet/**/*e2e.test.ts'

export default defineConfig({
  test: {
    setupFiles: ['./protocol/polyfill.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['**/*.test.ts'], exclude: ['node_modules/**', 'dist/**', E2E], sequence: { groupOrder: 0 } },
      },
      {
        // One at a time, after the unit tests: two 5-guardian networks sharing 2 cores make each
        // other's signing attempts and timeouts expire, and the tests would measure the overload.
        extends: true,
        test: { name: 'e2e', include: [E2E], exclude: ['node_modules/**', 'dist/**'], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
})
