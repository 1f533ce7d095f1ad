/**
 * The body of an issuance-pool worker thread (see issuance-pool.ts): it keeps one checked
 * issuer per CA and answers each task with `issueFromCsr`'s result or its error, by task id.
 */
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { HangarError } from '../../../errors.js';
import { issueFromCsr, type CsrIssueRequest } from './csr-issuance.js';
import { createDeviceIssuer, type DeviceCertificateIssuer } from './fast-issuer.js';

export interface IssueTask {
  id: number;
  caId: string;
  /** Sent with the first task for a CA on this worker only. */
  ca?: { certificatePem: string; privateKey: KeyObject };
  request: CsrIssueRequest;
}

export type IssueAnswer =
  | { id: number; ok: true; value: Awaited<ReturnType<typeof issueFromCsr>> }
  | { id: number; ok: false; error: { code: HangarError['code'] | null; message: string } };

const port = parentPort;
if (!port) throw new Error('issuance-worker runs as a worker thread only');
const issuers = new Map<string, DeviceCertificateIssuer>();

port.on('message', (task: IssueTask) => {
  void answer(task).then((reply) => port.postMessage(reply));
});

async function answer(task: IssueTask): Promise<IssueAnswer> {
  try {
    let issuer = issuers.get(task.caId);
    if (!issuer) {
      if (!task.ca) throw new Error(`CA ${task.caId} was never sent to this worker`);
      issuer = createDeviceIssuer(task.ca);
      issuers.set(task.caId, issuer);
    }
    return { id: task.id, ok: true, value: await issueFromCsr(issuer, task.request) };
  } catch (err) {
    return { id: task.id, ok: false, error: { code: err instanceof HangarError ? err.code : null, message: err instanceof Error ? err.message : String(err) } };
  }
}
