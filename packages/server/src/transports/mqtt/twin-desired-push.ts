import type { Logger } from 'pino';
import type { EventBus } from '../../bus/event-bus.js';
import type { TwinService } from '../../core/twin/twin-service.js';
import type { MqttGateway } from './mqtt-gateway.js';
import { MqttStatePush } from './state-push.js';

/** `devices/{id}/twin/desired` (DESIGN §5): the full desired document `{"$version":n,…}`, as a state message. */
export class MqttTwinDesiredPush extends MqttStatePush {
  constructor(gateway: Pick<MqttGateway, 'publishToDevice' | 'listening'>, twins: Pick<TwinService, 'desiredDocument'>, bus: Pick<EventBus, 'subscribe'>, logger: Logger) {
    super(gateway, { subtopic: 'twin/desired', changedOn: 'twin.desired.changed', read: (t, d) => twins.desiredDocument(t, d), name: 'the desired twin' }, bus, logger);
  }
}
