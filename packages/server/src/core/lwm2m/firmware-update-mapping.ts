import type { OtaFailureReason } from '@hangar/protocol';

/** Object 5 Firmware Update resources (LwM2M 1.1 TS-Core Appendix E.6). */
export const FW = {
  objectId: 5,
  package: 0,
  packageUri: 1,
  update: 2,
  state: 3,
  updateResult: 5,
  protocolSupport: 8,
  deliveryMethod: 9,
} as const;

/** State (5/0/3). */
export const FwState = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;

/** Firmware Update Protocol Support (5/0/8) values. */
export const FwProtocol = { coap: 0, coaps: 1, http: 2, https: 3 } as const;

/** Firmware Update Delivery Method (5/0/9). */
export const FwDelivery = { pull: 0, push: 1, both: 2 } as const;

/**
 * Update Result (5/0/5) 2–9 on OTA failure reasons (docs/ota.md, "LwM2M devices (Object 5)"): what
 * went wrong while fetching or storing the package is `download`, a package the device rejects
 * as corrupt `verify`, one it cannot use at all `incompatible`, a failed install `install`.
 */
const FAILURES: Readonly<Record<number, { reason: OtaFailureReason; text: string }>> = {
  2: { reason: 'download', text: 'not enough flash memory for the package' },
  3: { reason: 'download', text: 'out of RAM during the download' },
  4: { reason: 'download', text: 'connection lost during the download' },
  5: { reason: 'verify', text: 'integrity check failure' },
  6: { reason: 'incompatible', text: 'unsupported package type' },
  7: { reason: 'download', text: 'invalid URI' },
  8: { reason: 'install', text: 'firmware update failed' },
  9: { reason: 'download', text: 'unsupported protocol' },
};

/** The OTA failure of an Update Result, or undefined for 0 (initial) and 1 (success). */
export function failureOfUpdateResult(result: number): { reason: OtaFailureReason; error: string } | undefined {
  if (result === 0 || result === 1) return undefined;
  const f = FAILURES[result];
  if (!f) return { reason: 'other', error: `LwM2M Update Result ${result} (not defined by TS-Core E.6)` };
  return { reason: f.reason, error: `LwM2M Update Result ${result}: ${f.text}` };
}

/** What the device says it can do (5/0/8, 5/0/9); undefined when it does not say. */
export interface FirmwareCapabilities {
  delivery: number | undefined;
  protocols: number[] | undefined;
}

export type DeliveryChoice = { method: 'pull'; uri: string } | { method: 'push' } | { method: 'none'; why: string };

/**
 * Pull or push (docs/ota.md, "LwM2M devices (Object 5)"): pull when the installation says where devices fetch packages
 * (`pullUri`), the device pulls (5/0/9 absent, 0 or 2) and speaks the URI's scheme (5/0/8 absent,
 * or listing it); else push by a Block1 write of 5/0/0 when the device takes pushes (5/0/9 absent,
 * 1 or 2). `prefer: 'push'` pushes whenever the device takes pushes; `prefer: 'pull'` never pushes.
 */
export function chooseDelivery(caps: FirmwareCapabilities, pullUri: string | undefined, prefer: 'auto' | 'pull' | 'push'): DeliveryChoice {
  const pulls = caps.delivery === undefined || caps.delivery === FwDelivery.pull || caps.delivery === FwDelivery.both;
  const pushes = caps.delivery === undefined || caps.delivery === FwDelivery.push || caps.delivery === FwDelivery.both;
  const scheme = pullUri === undefined ? undefined : schemeProtocol(pullUri);
  const canPull = pulls && pullUri !== undefined && scheme !== undefined && (caps.protocols === undefined || caps.protocols.includes(scheme));
  if (prefer === 'push' && pushes) return { method: 'push' };
  if (canPull) return { method: 'pull', uri: pullUri! };
  if (prefer === 'pull') return { method: 'none', why: pullUri === undefined ? 'pull only, and no package URI is configured' : `pull only, and the device does not pull ${pullUri.split(':')[0]}://` };
  if (pushes) return { method: 'push' };
  return { method: 'none', why: pullUri === undefined ? 'the device only pulls, and no package URI is configured' : `the device only pulls, and not over ${pullUri.split(':')[0]}://` };
}

function schemeProtocol(uri: string): number | undefined {
  const scheme = uri.slice(0, uri.indexOf(':'));
  return (FwProtocol as Record<string, number>)[scheme];
}
