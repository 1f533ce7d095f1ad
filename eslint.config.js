import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', '.tmp/**', 'packages/server/public/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', crypto: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Library code logs through pino; tests, benchmarks and the dashboard may use the console.
    files: ['**/*.test.ts', 'e2e/**', 'bench/**', 'packages/web/**', '**/bin/*.js'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/testing/**', 'e2e/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The agent never imports the server (DESIGN §2); core never imports a transport or the API.
    files: ['packages/agent/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@hangar/server', '**/server/src/**'] }] },
  },
  {
    // Core declares the store ports (core/stores.ts) and never sees their implementation: no
    // store/, no Kysely, no driver. Its tests reach a real store through testing/.
    files: ['packages/server/src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/api/**', '**/transports/**', '**/store/**', 'fastify', '@fastify/*', 'kysely', 'pg', 'better-sqlite3'] },
      ],
    },
  },
  {
    // Transports and the API call core services; only the composition root (app.ts) opens the store.
    files: ['packages/server/src/transports/**', 'packages/server/src/api/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/store/**'] }] },
  },
  {
    // Routes get their services as an argument (core/services.ts), never from the composition root.
    files: ['packages/server/src/api/routes/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/store/**', '**/app.js'] }] },
  },
  {
    files: ['packages/protocol/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@hangar/server', '**/server/src/**', 'node:*'] }] },
  },
);
