// @ts-check
/** npm run test:mutation: StrykerJS over src/, with vitest running the `unit` and `unit-io` projects. */
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts' },
  // perTest: each mutant runs only the tests that reach it (the whole run stays within minutes on 2 cores).
  coverageAnalysis: 'perTest',
  concurrency: 2,
  incremental: false,
  mutate: [
    'src/**/*.ts',
    // Type declarations only: nothing to mutate. (The dev collector lives in collector/, a workspace
    // outside src/, tested by the integration tier.)
    '!src/types.ts',
    '!src/platform/platform.ts',
  ],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
