import { defineConfig } from 'vitest/config';

// Two projects: `unit` (npm run test:unit) is deterministic and opens no socket; `unit-io` covers the
// one module that needs a real socket (the node:http transport, on 127.0.0.1). Stryker runs both.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 5_000,
          // One module graph for all files (threads, no isolation): a quarter of the CPU time, which
          // matters on a shared 2-core machine (Stryker runs these tests once per mutant). Safe because
          // test/unit/setup.ts restores the globals tests may fake (Math.random, Date, timers), files
          // that stub globals unstub them, and the suite passes shuffled (--sequence.shuffle).
          pool: 'threads',
          isolate: false,
          // Refuses sockets (a test that touches the network here is a bug) and resets fakes after each test.
          setupFiles: ['test/unit/setup.ts'],
        },
      },
      {
        test: {
          name: 'unit-io',
          include: ['test/unit-io/**/*.test.ts'],
          environment: 'node',
          testTimeout: 5_000,
        },
      },
    ],
  },
});
