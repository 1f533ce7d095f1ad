import type { Logger } from 'pino';
import { deviceTopic } from '@hangar/protocol';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DomainEventType } from '../../bus/events.js';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { KeyedSerializer } from '../../core/presence/keyed-serializer.js';
import type { MqttGateway } from './mqtt-gateway.js';
import { topicMatches } from './topic-acl.js';

/** A per-device document the core owns and a device reads on one downlink topic. */
export interface StateDocument {
  /** The topic under `devices/{id}/`, e.g. `twin/desired`. */
  subtopic: string;
  /** The event that says a device's document changed (it carries tenantId and deviceId). */
  changedOn: DomainEventType;
  /** The document now, read from the core at send time. */
  read(tenantId: string, deviceId: string): Promise<unknown>;
  /** For the log line when a send fails, e.g. "the desired twin". */
  name: string;
}

/**
 * Sends a device its current document (the desired twin, the OTA offer) as a *state message*:
 * when the device subscribes, when its persistent session comes back (the gateway's `subscribed`
 * hook), and after every change event.
 *
 * The document is always read from the core at send time, and `DownlinkOptions.state` makes a
 * newer one replace an older one still waiting; nothing is kept for an absent device and nothing
 * is re-sent from a resumed session. So a device that was away while its document changed twice
 * receives only the latest, and never an older document after a newer one — across reconnects,
 * persistent sessions and restarts (the store, not the session, is the source).
 */
export class MqttStatePush {
  /** One send at a time per device, in event order: two reads can never overtake each other. */
  private readonly serializer = new KeyedSerializer();
  private readonly off: Unsubscribe;

  constructor(
    private readonly gateway: Pick<MqttGateway, 'publishToDevice' | 'listening'>,
    private readonly doc: StateDocument,
    bus: Pick<EventBus, 'subscribe'>,
    private readonly logger: Logger,
  ) {
    this.off = bus.subscribe(doc.changedOn, (e) => {
      if ('deviceId' in e) this.push(e.tenantId, e.deviceId);
    });
  }

  /** The gateway's `subscribed` hook: a filter that takes the document's topic gets it now. */
  subscribed(identity: DeviceIdentity, filters: string[]): void {
    const topic = deviceTopic(identity.deviceId, this.doc.subtopic);
    if (filters.some((f) => topicMatches(f, topic))) this.push(identity.tenantId, identity.deviceId);
  }

  /** Resolves once every send queued so far is done (tests, shutdown). */
  drain(): Promise<void> {
    return this.serializer.drain();
  }

  stop(): void {
    this.off();
  }

  private push(tenantId: string, deviceId: string): void {
    const { subtopic } = this.doc;
    // Most changes are for devices not listening here (offline, another protocol): no read then.
    if (!this.gateway.listening(tenantId, deviceId, subtopic)) return;
    void this.serializer
      .run(deviceId, async () => {
        if (!this.gateway.listening(tenantId, deviceId, subtopic)) return;
        const document = await this.doc.read(tenantId, deviceId);
        this.gateway.publishToDevice(tenantId, deviceId, subtopic, JSON.stringify(document), { qos: 1, state: true });
      })
      .catch((err: unknown) => this.logger.warn({ err, deviceId }, `${this.doc.name} could not be sent`));
  }
}
