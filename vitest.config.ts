import { defineConfig } from 'vitest/config';

// Integration tests build network namespaces and load BPF: give setup room on a loaded 2-core
// machine, and run at most two files at once.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
