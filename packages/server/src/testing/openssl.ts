import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The `openssl` command line as an independent checker of what Hangar's PKI makes: files go
 * in a scratch directory that `cleanup()` removes.
 */
export class OpensslWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'hangar-openssl-'));

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, content: string | Buffer): string {
    const p = this.path(name);
    writeFileSync(p, content);
    return p;
  }

  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }

  /** Runs openssl; resolves with its exit code and output rather than throwing. */
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('openssl', args, { cwd: this.dir, encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  async ok(args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** A key and CSR made by openssl: `keyArgs` e.g. ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']. */
  async csr(name: string, subject: string, keyArgs: string[]): Promise<{ csrPem: string; keyPath: string }> {
    await this.ok(['req', '-new', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
    return { csrPem: this.read(`${name}.csr`), keyPath: this.path(`${name}.key`) };
  }

  /** An external CA made by openssl, as an operator would bring one. */
  async ca(name: string): Promise<{ certPem: string; keyPath: string; certPath: string }> {
    await this.ok([
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { certPem: this.read(`${name}.pem`), keyPath: this.path(`${name}.key`), certPath: this.path(`${name}.pem`) };
  }

  /** A certificate for `cn` signed by an openssl CA made with `ca()`. */
  async signedBy(caName: string, name: string, cn: string): Promise<{ certPem: string; keyPath: string }> {
    await this.csr(name, `/CN=${cn}`, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    await this.ok(['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '10', '-out', `${name}.pem`]);
    return { certPem: this.read(`${name}.pem`), keyPath: this.path(`${name}.key`) };
  }

  /** Signs `payload` with a key file (DER-encoded ECDSA, as devices using OpenSSL send it). */
  async sign(keyPath: string, payload: string): Promise<string> {
    const input = this.write('payload.txt', payload);
    await this.ok(['dgst', '-sha256', '-sign', keyPath, '-out', 'payload.sig', input]);
    return readFileSync(this.path('payload.sig')).toString('base64');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
