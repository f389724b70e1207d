import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O clients.
const forbiddenInWorkflows = [
  { group: ['node:*'], message: 'Workflows are deterministic: do I/O in an activity.' },
  {
    group: ['@aws-sdk/*', 'kafkajs', 'csv-parse', 'csv-parse/*', '@duckdb/*', 'dotenv'],
    message: 'Workflows are deterministic: do I/O in an activity.',
  },
  {
    group: ['../src/config', '../src/services/*', '../src/adapters/*'],
    message: 'Workflows receive configuration through their input.',
  },
];
const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'child_process',
  'http',
  'https',
  'net',
  'zlib',
  'crypto',
  'stream',
  'util',
  'events',
  'worker_threads',
  'process',
  'timers',
  'dns',
];

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', 'dist/', 'dist.*/', 'coverage/', 'bench-results/', '**/.*'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins, patterns: forbiddenInWorkflows }],
    },
  },
  {
    files: ['scripts/**/*.ts', 'test/**/*.ts', 'src/cli/**/*.ts', 'src/main.ts', 'src/worker-main.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Plain JavaScript entry points (they run before dependencies are installed): no type information.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        module: 'readonly',
      },
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      'no-console': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  { files: ['eslint.config.mjs'], languageOptions: { sourceType: 'module' } },
  prettier,
);
