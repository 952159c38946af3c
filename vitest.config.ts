import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Browser and crash tests start processes of their own; two cores do not profit from more forks.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      // Pure functions: nothing to build, done in seconds (`npm run test:unit`).
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // Everything else may start the built server or load the built editor: built once, before any file runs.
      {
        extends: true,
        test: {
          name: 'system',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/**'],
          globalSetup: ['test/global-setup.ts']
        }
      }
    ]
  }
})
