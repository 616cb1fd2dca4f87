/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  testTimeout: 60000,
  moduleNameMapper: { '^kubefaas$': '<rootDir>/constructs/index.ts', '^kubefaas/refs$': '<rootDir>/src/refs/index.ts' },
  // Process-level tests start real servers; keep parallelism modest on 2-core machines.
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/global-setup.js',
};
