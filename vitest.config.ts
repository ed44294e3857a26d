import { defineConfig } from 'vitest/config';

// Under Stryker every test file gets a fresh module graph, so that a mutant in module-level code
// (static mutants) is loaded anew; stryker.config.mjs sets ODP_MUTATION for its workers.
const mutation = process.env.ODP_MUTATION === '1';

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
          // matters on a shared 2-core machine. Safe because test/unit/setup.ts restores the
          // globals tests may fake (Math.random, Date, timers) and files that stub globals unstub them.
          pool: 'threads',
          isolate: mutation,
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
