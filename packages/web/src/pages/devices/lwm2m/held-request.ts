import type { Lwm2mOperationResult } from '../../../api.ts';
import type { HeldRequest } from '../../lwm2m/lwm2m-api.ts';
import type { Outcome } from './operation-outcome.tsx';

/** A held request that went out: the device's answer as an outcome, or why it failed. */
export function settledOutcome(path: string, label: string, held: HeldRequest): Outcome {
  const r = held.response as { code?: string; success?: boolean; values?: Lwm2mOperationResult['values']; links?: Lwm2mOperationResult['links']; diagnostic?: string } | undefined;
  if (held.state === 'failed' || !r || r.success === false) {
    const why = held.error ?? (r ? `the device answered ${r.code ?? '?'}${r.diagnostic ? `: ${r.diagnostic}` : ''}` : 'no answer');
    return { path, label, error: new Error(`${label} ${path} (held until the device woke): ${why}`) };
  }
  return { path, label, answer: { status: 'completed', code: r.code ?? '', ...(r.values ? { values: r.values } : {}), ...(r.links ? { links: r.links } : {}) } };
}
