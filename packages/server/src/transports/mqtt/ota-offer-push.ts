import type { Logger } from 'pino';
import type { EventBus } from '../../bus/event-bus.js';
import type { OtaDevicePort } from '../../core/ota/ota-device-port.js';
import type { MqttGateway } from './mqtt-gateway.js';
import { MqttStatePush } from './state-push.js';

/**
 * `devices/{id}/ota` (DESIGN §5, protocol/ota.ts): the device's current OTA offer — or
 * `{"deploymentId":null}` — as a state message, read at send time so its download tokens are
 * fresh; a withdrawn deployment stays withdrawn.
 */
export class MqttOtaOfferPush extends MqttStatePush {
  constructor(gateway: Pick<MqttGateway, 'publishToDevice' | 'listening'>, ota: Pick<OtaDevicePort, 'currentOffer'>, bus: Pick<EventBus, 'subscribe'>, logger: Logger) {
    super(gateway, { subtopic: 'ota', changedOn: 'ota.offer.changed', read: (t, d) => ota.currentOffer(t, d), name: 'the OTA offer' }, bus, logger);
  }
}
