/** Display names and small helpers shared by the enrollment-group pages. */
import type { EnrollmentGroup, EnrollmentMechanism } from '../../api.ts';
import { isPast } from '../../format.ts';

export const MECHANISMS: { value: EnrollmentMechanism; label: string; hint: string }[] = [
  { value: 'claim_token', label: 'Claim token', hint: 'devices present one shared token' },
  { value: 'symmetric_key', label: 'Symmetric key', hint: 'devices prove a per-device key derived from the group key' },
  { value: 'ca', label: 'CA-signed certificate', hint: 'devices present a certificate from a registered CA' },
];

export function mechanismLabel(m: EnrollmentMechanism): string {
  return MECHANISMS.find((x) => x.value === m)?.label ?? m;
}

/** "3 / 100", or "3 / ∞" without a limit. */
export function enrolledOfLimit(g: Pick<EnrollmentGroup, 'enrolledCount' | 'deviceLimit'>): string {
  return `${g.enrolledCount} / ${g.deviceLimit ?? '∞'}`;
}

/** Why devices cannot enroll right now, or null when they can. */
export function closedReason(g: EnrollmentGroup): string | null {
  if (!g.enabled) return 'disabled';
  if (isPast(g.expiresAt)) return 'expired';
  if (g.deviceLimit !== null && g.enrolledCount >= g.deviceLimit) return 'full';
  return null;
}
