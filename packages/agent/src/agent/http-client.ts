/**
 * The agent's HTTP(S) requests, on node:http(s) rather than fetch: a device with a client
 * certificate must present it, which fetch cannot do without another dependency.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAuth {
  deviceId: string;
  token?: string | undefined;
  certPem?: string | undefined;
  keyPem?: string | undefined;
  caPem?: string | undefined;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function httpRequest(
  url: string,
  init: { method: string; auth?: HttpAuth; body?: unknown; contentType?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const headers: Record<string, string> = { accept: 'application/json' };
  const body = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
  if (body) {
    headers['content-type'] = init.contentType ?? 'application/json';
    headers['content-length'] = String(body.length);
  }
  const a = init.auth;
  // Basic names the device, so the server need not look the token up alone.
  if (a?.token) headers.authorization = `Basic ${Buffer.from(`${a.deviceId}:${a.token}`).toString('base64')}`;
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method: init.method,
        headers,
        ...(target.protocol === 'https:' && a?.certPem ? { cert: a.certPem, key: a.keyPem } : {}),
        ...(target.protocol === 'https:' && a?.caPem ? { ca: a.caPem } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(init.timeoutMs, () => req.destroy(new HttpError(`no answer from ${target.origin} within ${Math.round(init.timeoutMs / 1000)} s`)));
    req.on('error', (err) => reject(err instanceof HttpError ? err : new HttpError(`${init.method} ${target.pathname}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    req.end(body);
  });
}

/** The problem document's detail (or the start of the body) of a refused request. */
export function describeRefusal(answer: HttpAnswer): string {
  try {
    const p = JSON.parse(answer.body) as { detail?: string; title?: string; code?: string };
    return `${answer.status}${p.code ? ` ${p.code}` : ''}: ${p.detail ?? p.title ?? ''}`.trim();
  } catch {
    return `${answer.status}: ${answer.body.slice(0, 200)}`;
  }
}
