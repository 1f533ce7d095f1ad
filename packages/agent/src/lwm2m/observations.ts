/**
 * The client's side of Observe (RFC 7641, LwM2M 1.1 TS-Core §6.3.7 and §5.1.2): observations
 * by token, each notified when a value under its paths changes, no sooner than `pmin` seconds
 * after the last notification and at least every `pmax` seconds.
 */
import { CoapCode, CoapOptionNumber, encodeUint, type CoapOption } from '@hangar/protocol/coap';
import type { Lwm2mPath } from '@hangar/protocol/lwm2m';
import type { CoapEndpoint, ResponseToSend } from './coap-endpoint.js';
import { isUnder } from './object-tree.js';

export interface NotificationTiming {
  pmin: number;
  pmax: number | undefined;
  confirmable: boolean;
}

export interface ObservationSource {
  endpoint(): CoapEndpoint | undefined;
  /** The current content of an observation (a 2.05 with Content-Format and payload), or an error code. */
  content(paths: Lwm2mPath[], format: number, composite: boolean): ResponseToSend;
  timing(paths: Lwm2mPath[]): NotificationTiming;
  notified(): void;
}

interface Observation {
  token: Buffer;
  paths: Lwm2mPath[];
  format: number;
  composite: boolean;
  seq: number;
  lastSent: number;
  minTimer: NodeJS.Timeout | undefined;
  maxTimer: NodeJS.Timeout | undefined;
}

export class Observations {
  private readonly byToken = new Map<string, Observation>();

  constructor(private readonly source: ObservationSource) {}

  get size(): number {
    return this.byToken.size;
  }

  /** Registers (or re-registers, RFC 7641 §4.1) an observation; returns the Observe value of its first response. */
  add(token: Buffer, paths: Lwm2mPath[], format: number, composite: boolean): number {
    this.cancel(token);
    const observation: Observation = { token, paths, format, composite, seq: 1, lastSent: Date.now(), minTimer: undefined, maxTimer: undefined };
    this.byToken.set(token.toString('hex'), observation);
    this.armMax(observation);
    return observation.seq;
  }

  cancel(token: Buffer): boolean {
    const observation = this.byToken.get(token.toString('hex'));
    if (!observation) return false;
    clearTimeout(observation.minTimer);
    clearTimeout(observation.maxTimer);
    this.byToken.delete(token.toString('hex'));
    return true;
  }

  /** Cancels the observations of a path (Observe 1 in a GET of that path, Core §6.3.8). */
  cancelPath(path: Lwm2mPath): void {
    for (const o of [...this.byToken.values()]) if (o.paths.length === 1 && samePath(o.paths[0]!, path)) this.cancel(o.token);
  }

  clear(): void {
    for (const o of [...this.byToken.values()]) this.cancel(o.token);
  }

  /** A value changed: every observation covering it is notified, respecting its pmin. */
  changed(path: Lwm2mPath): void {
    for (const observation of this.byToken.values()) {
      if (!observation.paths.some((p) => isUnder(path, p) || isUnder(p, path))) continue;
      if (observation.minTimer) continue;
      const { pmin } = this.source.timing(observation.paths);
      const due = observation.lastSent + pmin * 1000;
      // Changes of one moment (a reading moves value and min/max) go out as one notification.
      observation.minTimer = setTimeout(() => this.send(observation), Math.max(0, due - Date.now()));
    }
  }

  private armMax(observation: Observation): void {
    clearTimeout(observation.maxTimer);
    const { pmin, pmax } = this.source.timing(observation.paths);
    // Core §5.1.2: pmax is ignored when it is not greater than pmin.
    if (pmax === undefined || pmax <= 0 || pmax < pmin) {
      observation.maxTimer = undefined;
      return;
    }
    observation.maxTimer = setTimeout(() => this.send(observation), pmax * 1000);
  }

  private send(observation: Observation): void {
    clearTimeout(observation.minTimer);
    observation.minTimer = undefined;
    const key = observation.token.toString('hex');
    if (this.byToken.get(key) !== observation) return;
    const endpoint = this.source.endpoint();
    if (!endpoint) return;
    const content = this.source.content(observation.paths, observation.format, observation.composite);
    // RFC 7641 §4.2: the sequence number grows with each notification (24 bits, wrapping).
    observation.seq = (observation.seq + 1) & 0xffffff;
    observation.lastSent = Date.now();
    const ok = content.code === CoapCode.Content;
    const options: CoapOption[] = [...(ok ? [{ number: CoapOptionNumber.Observe, value: encodeUint(observation.seq) }] : []), ...(content.options ?? [])];
    const { confirmable } = this.source.timing(observation.paths);
    // An error notification ends the observation (RFC 7641 §4.2).
    if (!ok) this.cancel(observation.token);
    else this.armMax(observation);
    endpoint.notify(observation.token, { ...content, options }, confirmable).then(
      () => this.source.notified(),
      () => this.cancel(observation.token),
    );
  }
}

function samePath(a: Lwm2mPath, b: Lwm2mPath): boolean {
  return a.objectId === b.objectId && a.instanceId === b.instanceId && a.resourceId === b.resourceId && a.resourceInstanceId === b.resourceInstanceId;
}
