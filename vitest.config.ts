import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Browser and crash tests start processes of their own; two cores do not profit from more forks.
    maxWorkers: 2,
    reporters: ['default']
  }
})
