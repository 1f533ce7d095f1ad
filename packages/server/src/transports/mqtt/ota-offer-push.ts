import type { Logger } from 'pino';
import { deviceTopic } from '@hangar/protocol';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { OtaDevicePort } from '../../core/ota/ota-device-port.js';
import { KeyedSerializer } from '../../core/presence/keyed-serializer.js';
import type { MqttGateway } from './mqtt-gateway.js';
import { topicMatches } from './topic-acl.js';

const OTA = 'ota';

/**
 * Sends `devices/{id}/ota` (DESIGN §5, protocol/ota.ts): the device's current OTA offer — or
 * `{"deploymentId":null}` — when the device subscribes, when its persistent session comes
 * back, and after every `ota.offer.changed`.
 *
 * Like the desired twin (twin-desired-push.ts) the offer is a state message: read from the core
 * port at send time (so its download tokens are fresh), a newer one replaces an older one still
 * queued or in flight, and nothing is kept for an absent device or re-sent from a resumed
 * session. A device that was away while its offer changed twice gets only the latest, and never
 * an older offer after a newer one (a withdrawn deployment stays withdrawn).
 */
export class MqttOtaOfferPush {
  /** One send at a time per device, in event order: two reads can never overtake each other. */
  private readonly serializer = new KeyedSerializer();
  private readonly off: Unsubscribe;

  constructor(
    private readonly gateway: Pick<MqttGateway, 'publishToDevice' | 'listening'>,
    private readonly ota: Pick<OtaDevicePort, 'currentOffer'>,
    bus: Pick<EventBus, 'subscribe'>,
    private readonly logger: Logger,
  ) {
    this.off = bus.subscribe('ota.offer.changed', (e) => this.push(e.tenantId, e.deviceId));
  }

  /** The gateway's `subscribed` hook (new subscriptions and resumed sessions alike): a filter that takes the offer topic gets it now. */
  subscribed(identity: DeviceIdentity, filters: string[]): void {
    const topic = deviceTopic(identity.deviceId, OTA);
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
    // Most offer changes of a rollout are for devices not listening here: no read then.
    if (!this.gateway.listening(tenantId, deviceId, OTA)) return;
    void this.serializer
      .run(deviceId, async () => {
        if (!this.gateway.listening(tenantId, deviceId, OTA)) return;
        const offer = await this.ota.currentOffer(tenantId, deviceId);
        this.gateway.publishToDevice(tenantId, deviceId, OTA, JSON.stringify(offer), { qos: 1, state: true });
      })
      .catch((err: unknown) => this.logger.warn({ err, deviceId }, 'the OTA offer could not be sent'));
  }
}
