import http from 'node:http';
import https from 'node:https';

export interface PostResult {
  statusCode: number;
  /** The start of the response body, for the delivery's last error. */
  bodySnippet: string;
}

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  /** The whole exchange, connect to last byte read. */
  timeoutMs: number;
  signal: AbortSignal;
  agents: { http: http.Agent; https: https.Agent };
}

const SNIPPET_BYTES = 512;

/**
 * POSTs one webhook body. node:http rather than fetch: Hangar owns the connection pool (and
 * destroys it on shutdown), and redirects are never followed — a receiver that redirects has
 * moved, which the operator should see as a failure rather than Hangar chasing it.
 */
export function postJson(url: URL, options: PostOptions): Promise<PostResult> {
  return new Promise<PostResult>((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const request = (isHttps ? https : http).request(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
      agent: isHttps ? options.agents.https : options.agents.http,
      signal: options.signal,
    });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    const done = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    request.on('error', (err) => done(() => reject(err)));
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < SNIPPET_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => done(() => resolve({ statusCode: res.statusCode ?? 0, bodySnippet: Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8') })));
      res.on('error', (err) => done(() => reject(err)));
    });
    request.end(options.body);
  });
}
