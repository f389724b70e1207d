/** Unit tests run by default; integration tests need the local services (npm run services -- up). */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60_000,
  // Brings dist/ up to date first (the CLI and the compiled worker the tests spawn run it).
  globalSetup: '<rootDir>/test/support/build-setup.js',
  // The default output, then each skipped test with its reason and a 'N passed, N failed, N skipped' line.
  reporters: ['default', '<rootDir>/test/support/skipped-reporter.js'],
};
