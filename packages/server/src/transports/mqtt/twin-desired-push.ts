import type { Logger } from 'pino';
import { deviceTopic } from '@hangar/protocol';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { KeyedSerializer } from '../../core/presence/keyed-serializer.js';
import type { TwinService } from '../../core/twin/twin-service.js';
import type { MqttGateway } from './mqtt-gateway.js';
import { topicMatches } from './topic-acl.js';

const DESIRED = 'twin/desired';

/**
 * Sends `devices/{id}/twin/desired` (DESIGN §5): the full desired document when the device
 * subscribes, when its persistent session comes back, and after every change.
 *
 * The document is always read from the store at send time and sent as a state message (see
 * `DownlinkOptions.state`): a newer one replaces an older one still waiting, nothing is kept
 * for an absent device, and nothing is re-sent from a resumed session. So a device that was
 * away while desired changed twice receives only the latest, and a device never receives an
 * older document after a newer one — across reconnects, persistent sessions and restarts (the
 * store, not the session, is the source).
 */
export class MqttTwinDesiredPush {
  /** One send at a time per device, in event order: two reads can never overtake each other. */
  private readonly serializer = new KeyedSerializer();
  private readonly off: Unsubscribe;

  constructor(
    private readonly gateway: Pick<MqttGateway, 'publishToDevice' | 'listening'>,
    private readonly twins: Pick<TwinService, 'desiredDocument'>,
    bus: Pick<EventBus, 'subscribe'>,
    private readonly logger: Logger,
  ) {
    this.off = bus.subscribe('twin.desired.changed', (e) => this.push(e.tenantId, e.deviceId));
  }

  /** The gateway's `subscribed` hook: a filter that takes the desired topic gets the document now. */
  subscribed(identity: DeviceIdentity, filters: string[]): void {
    const topic = deviceTopic(identity.deviceId, DESIRED);
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
    // Most changes are for devices not listening here (offline, another protocol): no read then.
    if (!this.gateway.listening(tenantId, deviceId, DESIRED)) return;
    void this.serializer
      .run(deviceId, async () => {
        if (!this.gateway.listening(tenantId, deviceId, DESIRED)) return;
        const document = await this.twins.desiredDocument(tenantId, deviceId);
        this.gateway.publishToDevice(tenantId, deviceId, DESIRED, JSON.stringify(document), { qos: 1, state: true });
      })
      .catch((err: unknown) => this.logger.warn({ err, deviceId }, 'the desired twin could not be sent'));
  }
}
