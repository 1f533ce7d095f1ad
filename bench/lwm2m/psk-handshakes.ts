/**
 * The reference's client: N full DTLS PSK handshakes, each followed by one CoAP request over
 * the new session — with the agent's own DTLS transport (`openDtlsTransport`, node-dtls-client,
 * TLS_PSK_WITH_AES_128_CCM_8) and CoAP endpoint, the very code each simulated LwM2M device uses
 * to reach Hangar's DTLS port. Sessions stay open until `close()`, as the devices' do, so the
 * server holds N sessions at the end either way.
 */
import { performance } from 'node:perf_hooks';
import { CoapEndpoint, openDtlsTransport, type OutgoingRequest, type PskCredentials } from '../../packages/agent/src/lwm2m/index.js';

export interface HandshakeRun {
  /** Handshake + request + response completed. */
  done: number;
  failed: number;
  wallSec: number;
  /** The first few failure reasons, with counts. */
  failures: Record<string, number>;
  /** Ends every session (close_notify) and closes its socket. */
  close(): Promise<void>;
}

export interface HandshakeOptions {
  host: string;
  port: number;
  /** One per session; a reference server may accept the same credentials for all. */
  credentials: readonly PskCredentials[];
  /** Handshakes in flight at most. */
  concurrency: number;
  request: OutgoingRequest;
  /** An error answer (4.04 for a path the server does not serve) still completed the exchange. */
  anyAnswer?: boolean;
  /** Handshake deadline per session (default 10 s). */
  timeoutMs?: number;
}

export async function handshakeAndRequest(o: HandshakeOptions): Promise<HandshakeRun> {
  const endpoints: CoapEndpoint[] = [];
  const failures = new Map<string, number>();
  let done = 0;
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < o.credentials.length) {
      const psk = o.credentials[next++]!;
      try {
        const transport = await openDtlsTransport({ host: o.host, port: o.port, psk, timeoutMs: o.timeoutMs ?? 10_000 });
        const endpoint = new CoapEndpoint(transport);
        endpoints.push(endpoint);
        const res = await endpoint.request(o.request);
        if (!o.anyAnswer && res.code >= 0x80) throw new Error(`answered ${res.code >> 5}.${String(res.code & 0x1f).padStart(2, '0')}`);
        done += 1;
      } catch (err) {
        failed += 1;
        const reason = (err instanceof Error ? err.message : String(err)).replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'host:port').slice(0, 120);
        if (failures.size < 10 || failures.has(reason)) failures.set(reason, (failures.get(reason) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.credentials.length) }, worker));
  const wallSec = (performance.now() - t0) / 1000;
  return {
    done,
    failed,
    wallSec,
    failures: Object.fromEntries(failures),
    close: async () => {
      const queue = endpoints.splice(0);
      await Promise.all(
        Array.from({ length: Math.min(200, queue.length) }, async () => {
          for (let e = queue.shift(); e; e = queue.shift()) await e.close().catch(() => undefined);
        }),
      );
    },
  };
}
