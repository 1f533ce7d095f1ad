import type { UserProperties } from 'mqtt-packet';
import { topicMatches } from './topic-acl.js';

/** A message from the server to one device, as it waits in a session. */
export interface Downlink {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** Epoch ms after which it is dropped, from the MQTT 5 message expiry. */
  expiresAt: number | null;
  responseTopic?: string | undefined;
  correlationData?: Buffer | undefined;
  userProperties?: UserProperties | undefined;
  contentType?: string | undefined;
  /**
   * A state document (the desired twin): only the newest matters. A newer one replaces it in
   * the queue and expires it in flight, and a resumed session does not send it again — the
   * server sends the current state instead (see twin-desired-push.ts).
   */
  state?: boolean | undefined;
}

/**
 * What MQTT calls the session state on the server: subscriptions, QoS 1 messages sent and not
 * yet acknowledged, and messages waiting to be sent. It outlives a connection when the device
 * asked for a persistent session (3.1.1 clean session 0, 5.0 session expiry > 0).
 */
export class MqttSession {
  /** Filter → granted QoS. Created on the first SUBSCRIBE: most idle devices never need it. */
  subscriptions: Map<string, 0 | 1> | undefined;
  /** Waiting to be sent (disconnected, or the device's receive window is full). */
  queue: Downlink[] | undefined;
  /** Sent with QoS 1, by packet id, until PUBACK; re-sent with DUP on reconnect [MQTT-4.4.0-1]. */
  inflight: Map<number, Downlink> | undefined;
  /** 0: the session ends with its connection. */
  expiryMs: number;
  /** Set while no connection holds the session. */
  detachedAt: number | null = null;
  private lastPacketId = 0;

  constructor(
    readonly tenantId: string,
    readonly deviceId: string,
    expiryMs: number,
  ) {
    this.expiryMs = expiryMs;
  }

  /** The QoS this session receives `topic` at, or undefined when no subscription matches. */
  grantedQos(topic: string): 0 | 1 | undefined {
    if (!this.subscriptions) return undefined;
    let best: 0 | 1 | undefined;
    for (const [filter, qos] of this.subscriptions) {
      if (topicMatches(filter, topic) && (best === undefined || qos > best)) best = qos;
    }
    return best;
  }

  subscribe(filter: string, qos: 0 | 1): void {
    (this.subscriptions ??= new Map()).set(filter, qos);
  }

  unsubscribe(filter: string): boolean {
    return this.subscriptions?.delete(filter) ?? false;
  }

  /** A packet id no unacknowledged message uses [MQTT-2.2.1-3]; undefined when all 65,535 are. */
  nextPacketId(): number | undefined {
    for (let tries = 0; tries < 65535; tries += 1) {
      this.lastPacketId = this.lastPacketId >= 65535 ? 1 : this.lastPacketId + 1;
      if (!this.inflight?.has(this.lastPacketId)) return this.lastPacketId;
    }
    return undefined;
  }

  get queued(): number {
    return this.queue?.length ?? 0;
  }
}

export interface SessionStoreOptions {
  /** Messages a session keeps waiting; past it the oldest is dropped. */
  maxQueued: number;
  now: () => number;
  /** Told how many messages were dropped from a full queue. */
  onDropped?: (n: number) => void;
}

/**
 * The MQTT sessions of this node, in memory: a session lives here while its device is
 * connected and, if persistent, until it expires after the device left. The scale-out issue
 * moves them to shared storage; until then a restart or another node forgets them.
 */
export class MqttSessionStore {
  private readonly sessions = new Map<string, MqttSession>();
  /** Sessions without a connection, checked by `sweep`. */
  private readonly detached = new Set<MqttSession>();

  constructor(private readonly options: SessionStoreOptions) {}

  get(deviceId: string): MqttSession | undefined {
    const s = this.sessions.get(deviceId);
    if (s && this.expired(s, this.options.now())) {
      this.remove(s);
      return undefined;
    }
    return s;
  }

  /**
   * The session for a new connection: the existing one unless `cleanStart` or it belongs to
   * another tenant's device of the same id (ids are unique, but a deleted device's id may be
   * reused elsewhere). `present` is CONNACK's Session Present flag.
   */
  open(tenantId: string, deviceId: string, cleanStart: boolean, expiryMs: number): { session: MqttSession; present: boolean } {
    const existing = this.get(deviceId);
    if (existing && !cleanStart && existing.tenantId === tenantId) {
      existing.expiryMs = expiryMs;
      existing.detachedAt = null;
      this.detached.delete(existing);
      return { session: existing, present: true };
    }
    if (existing) this.remove(existing);
    const session = new MqttSession(tenantId, deviceId, expiryMs);
    this.sessions.set(deviceId, session);
    return { session, present: false };
  }

  /** Its connection ended: a session without expiry goes, a persistent one waits. */
  detach(session: MqttSession): void {
    if (this.sessions.get(session.deviceId) !== session) return;
    if (session.expiryMs <= 0) {
      this.remove(session);
      return;
    }
    session.detachedAt = this.options.now();
    this.detached.add(session);
  }

  /** Adds a message to wait in `session`; the oldest goes when the queue is full. */
  enqueue(session: MqttSession, message: Downlink): void {
    if (message.state) supersede(session, message.topic);
    const queue = (session.queue ??= []);
    queue.push(message);
    const over = queue.length - this.options.maxQueued;
    if (over > 0) {
      queue.splice(0, over);
      this.options.onDropped?.(over);
    }
  }

  discard(deviceId: string): void {
    const s = this.sessions.get(deviceId);
    if (s) this.remove(s);
  }

  /** Removes the detached sessions that have expired; returns how many. */
  sweep(): number {
    const now = this.options.now();
    let n = 0;
    for (const s of this.detached) {
      if (this.expired(s, now)) {
        this.remove(s);
        n += 1;
      }
    }
    return n;
  }

  get size(): number {
    return this.sessions.size;
  }

  get detachedCount(): number {
    return this.detached.size;
  }

  private expired(s: MqttSession, now: number): boolean {
    return s.detachedAt !== null && now - s.detachedAt >= s.expiryMs;
  }

  private remove(s: MqttSession): void {
    if (this.sessions.get(s.deviceId) === s) this.sessions.delete(s.deviceId);
    this.detached.delete(s);
  }
}

/**
 * Older state documents of `topic` are out of date: dropped from the queue, and expired in
 * flight (MQTT 5.0 §3.3.2.3.3: an expired message is not sent again on resume).
 */
export function supersede(session: MqttSession, topic: string): void {
  if (session.queue) {
    const kept = session.queue.filter((m) => !(m.state && m.topic === topic));
    session.queue = kept.length > 0 ? kept : undefined;
  }
  if (session.inflight) for (const m of session.inflight.values()) if (m.state && m.topic === topic) m.expiresAt = 0;
}
