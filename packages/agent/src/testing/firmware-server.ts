/**
 * A stand-in for Hangar's firmware delivery in the agent's tests: node:http serving in-memory
 * artifacts with RFC 9110 range semantics (206, 416, `ETag`, `If-Range`), download tokens
 * (`?t=`), connections cut on demand mid-body, and the device API's signing-key list. Every
 * request is recorded so a test can check what the agent asked for.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FirmwareSigningKey } from '@hangar/protocol';

export interface ServedFile {
  body: Buffer;
  etag: string;
  /** The `t` query parameter the file wants (none: any). */
  token?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

export interface FirmwareServer {
  url: string;
  requests: RecordedRequest[];
  /** Serves `body` at `path` (a new body gets a new ETag). */
  serve(path: string, body: Buffer, token?: string): ServedFile;
  /** The next GET of `path` sends only up to byte `at` of the file, then drops the connection. */
  cutNext(path: string, at: number): void;
  /** Every GET of `path` is cut (a dead link), until `cutNext`/`serve` is called again. */
  cutAlways(path: string, at: number): void;
  signingKeys: FirmwareSigningKey[];
  /** Extra routes (e.g. `/device/v1/ota`): return true when handled. */
  extra?: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => boolean;
  close(): Promise<void>;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function startFirmwareServer(): Promise<FirmwareServer> {
  const files = new Map<string, ServedFile>();
  const cuts = new Map<string, { at: number; always: boolean }>();
  const fs: FirmwareServer = {
    url: '',
    requests: [],
    signingKeys: [],
    serve(path, body, token) {
      const file: ServedFile = { body, etag: `"${sha256Hex(body).slice(0, 16)}"`, ...(token ? { token } : {}) };
      files.set(path, file);
      cuts.delete(path);
      return file;
    },
    cutNext(path, at) {
      cuts.set(path, { at, always: false });
    },
    cutAlways(path, at) {
      cuts.set(path, { at, always: true });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      fs.requests.push({ method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers });
      if (fs.extra?.(req, res, body)) return;
      if (u.pathname === '/device/v1/firmware/signing-keys') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(fs.signingKeys));
        return;
      }
      const file = files.get(u.pathname);
      if (!file) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND"}');
      if (file.token && u.searchParams.get('t') !== file.token) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"DOWNLOAD_TOKEN_INVALID"}');
      const size = file.body.length;
      let start = 0;
      let status = 200;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const ifRange = req.headers['if-range'];
      // RFC 9110 §13.1.5: a Range whose If-Range validator does not match is ignored (200, all of it).
      if (range && (ifRange === undefined || ifRange === file.etag)) {
        start = Number(range[1]);
        if (start >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        status = 206;
      }
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', etag: file.etag, 'accept-ranges': 'bytes', 'content-length': size - start };
      if (status === 206) headers['content-range'] = `bytes ${start}-${size - 1}/${size}`;
      res.writeHead(status, headers);
      const cut = cuts.get(u.pathname);
      if (cut && cut.at > start) {
        if (!cut.always) cuts.delete(u.pathname);
        // Ending the socket (not destroying it) delivers every byte written: the cut lands exactly at `at`.
        res.write(file.body.subarray(start, cut.at), () => res.socket?.end());
        return;
      }
      res.end(file.body.subarray(start));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fs.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fs;
}
