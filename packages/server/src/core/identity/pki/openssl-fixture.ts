import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * Test support: the `openssl` command line as the independent checker of what the PKI
 * primitives produce. Each workspace is a fresh temporary directory; call `remove()` in an
 * `afterAll` so nothing outlives the suite.
 */
export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface OpensslWorkspace {
  dir: string;
  path(name: string): string;
  write(name: string, content: string | Uint8Array): Promise<string>;
  read(name: string): Promise<string>;
  /** Runs `openssl …args` in the workspace; never rejects on a non-zero exit. */
  run(args: readonly string[]): Promise<OpensslResult>;
  /** Runs and fails with stderr when openssl exits non-zero; answers stdout. */
  ok(args: readonly string[]): Promise<string>;
  remove(): Promise<void>;
}

export async function opensslWorkspace(): Promise<OpensslWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-pki-'));
  const run = (args: readonly string[]): Promise<OpensslResult> =>
    new Promise((resolve, reject) => {
      execFile('openssl', [...args], { cwd: dir, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err); // openssl missing, not a failed command
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      });
    });
  return {
    dir,
    path: (name) => join(dir, name),
    async write(name, content) {
      await writeFile(join(dir, name), content);
      return join(dir, name);
    },
    read: (name) => readFile(join(dir, name), 'utf8'),
    run,
    async ok(args) {
      const result = await run(args);
      if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
      return result.stdout;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A workspace for the whole suite: made before its first test and removed after its last. The
 * object can be taken at module level; it answers only once the suite has started.
 */
export function suiteWorkspace(): OpensslWorkspace {
  let current: OpensslWorkspace | undefined;
  beforeAll(async () => {
    current = await opensslWorkspace();
  });
  afterAll(() => current?.remove());
  const get = (): OpensslWorkspace => {
    if (!current) throw new Error('the openssl workspace is made in beforeAll: use it inside a hook or a test');
    return current;
  };
  return {
    get dir() {
      return get().dir;
    },
    path: (name) => get().path(name),
    write: (name, content) => get().write(name, content),
    read: (name) => get().read(name),
    run: (args) => get().run(args),
    ok: (args) => get().ok(args),
    remove: () => get().remove(),
  };
}

/** Awaits a promise that must reject with a VALIDATION_FAILED HangarError; answers its message. */
export async function validationFailure(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ name: 'HangarError', code: 'VALIDATION_FAILED' });
  return (err as Error).message;
}

/** The PEM of a CSR for a fresh key that `openssl req -newkey <spec>` generates (e.g. "ec:…", "rsa:2048", "ed25519"). */
export async function opensslCsr(ws: OpensslWorkspace, name: string, newKey: readonly string[], commonName = name): Promise<string> {
  await ws.ok(['req', '-new', ...newKey, '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${commonName}`, '-out', `${name}.csr`]);
  return ws.read(`${name}.csr`);
}

/** `openssl req -newkey` arguments per key kind. */
export const NEW_KEY = {
  'P-256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
  'P-384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1'],
  'P-521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1'],
  'P-192': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime192v1'],
  secp256k1: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  Ed25519: ['-newkey', 'ed25519'],
  Ed448: ['-newkey', 'ed448'],
  'RSA-2048': ['-newkey', 'rsa:2048'],
  'RSA-1024': ['-newkey', 'rsa:1024'],
} as const;
