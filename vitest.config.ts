// Vitest configuration: tests live in test/ (layout in test/README.md).
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One worker per core: Vitest's default leaves one core to its main process, which idles
    // (on 2 cores that ran every file one after another).
    maxWorkers: availableParallelism(),
    // Test files share a worker's imported modules: importing src/ through Vite for each of
    // 35 files cost more than many of the files' tests. No test changes global state.
    isolate: false,
    // The usual report, then the ten slowest files.
    reporters: ['default', './test/helpers/slowest.ts'],
  },
});
