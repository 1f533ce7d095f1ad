#!/usr/bin/env node
// Runs the compiled CLI when it is built, else the TypeScript source through tsx, so that
// `npx hangar-agent` works straight after `npm ci` and during development alike.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/main.js', import.meta.url);
if (existsSync(dist) && !process.env.HANGAR_FROM_SOURCE) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/main.ts', import.meta.url).href);
}
