import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const protocolSource = (file: string): string => fileURLToPath(new URL(`./packages/protocol/src/${file}`, import.meta.url));
// Exact matches: the package's subpath entries (`/rest`, `/rest-client`) are files of their own.
const alias = [
  { find: /^@hangar\/protocol$/, replacement: protocolSource('index.ts') },
  { find: /^@hangar\/protocol\/rest$/, replacement: protocolSource('rest/index.ts') },
  { find: /^@hangar\/protocol\/rest-client$/, replacement: protocolSource('rest-client.ts') },
  { find: /^@hangar\/protocol\/coap$/, replacement: protocolSource('coap/index.ts') },
  { find: /^@hangar\/protocol\/lwm2m$/, replacement: protocolSource('lwm2m/index.ts') },
];

export default defineConfig({
  resolve: { alias },
  test: {
    // Starts an embedded PostgreSQL when HANGAR_TEST_DATABASE_URL is not set, so that the
    // PostgreSQL half of every store contract suite runs everywhere and never skips silently.
    globalSetup: ['./e2e/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      {
        resolve: { alias },
        test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 120_000 },
      },
      {
        resolve: { alias },
        // Whole-product tests spawn servers and browsers; they run one file at a time on two cores.
        test: { name: 'e2e', include: ['e2e/**/*.test.ts'], fileParallelism: false, testTimeout: 60_000, hookTimeout: 120_000 },
      },
    ],
  },
});
