import type { Logger } from 'pino';
import { deviceTopic } from '@hangar/protocol';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { CommandService } from '../../core/commands/command-service.js';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { MqttGateway } from './mqtt-gateway.js';

/** What the downlink needs of the gateway: its sessions and the one way to publish. */
export type CommandGateway = Pick<MqttGateway, 'sessions' | 'publishToDevice'>;

export interface MqttCommandDownlink {
  /** For the gateway's `subscribed` hook: a subscription that covers commands gets the queued ones. */
  subscribed(identity: DeviceIdentity, filters: string[]): void;
  stop(): void;
}

/** Topic-filter match of MQTT 3.1.1 §4.7 for one topic name (the filters were checked by the ACL already). */
function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Delivers queued commands to MQTT devices on `devices/{id}/commands/{cmdId}` (QoS 1): when a
 * device subscribes to them, when it connects with a persistent session that holds such a
 * subscription, and when a command is queued while it is online. A command is marked `sent`
 * only when it was written to the device's connection (commands/command-service.ts `deliver`);
 * an offline device's commands stay in the store, not in the gateway's memory, so a restart
 * loses none.
 */
export function mqttCommandDownlink(options: { gateway: CommandGateway; commands: Pick<CommandService, 'deliver'>; bus: Pick<EventBus, 'subscribe'>; logger: Logger }): MqttCommandDownlink {
  const { gateway, commands, logger } = options;
  /** One delivery per device at a time; a trigger meanwhile runs it once more afterwards. */
  const running = new Map<string, { again: boolean }>();

  const probe = (deviceId: string): string => deviceTopic(deviceId, 'commands/x');

  function online(tenantId: string, deviceId: string): boolean {
    const session = gateway.sessions.get(deviceId);
    return session !== undefined && session.tenantId === tenantId && session.detachedAt === null && session.grantedQos(probe(deviceId)) !== undefined;
  }

  function deliver(tenantId: string, deviceId: string): void {
    const key = `${tenantId}\u0000${deviceId}`;
    const current = running.get(key);
    if (current) {
      current.again = true;
      return;
    }
    const state = { again: false };
    running.set(key, state);
    void (async () => {
      try {
        do {
          state.again = false;
          if (!online(tenantId, deviceId)) break;
          await commands.deliver(tenantId, deviceId, (c) => {
            const payload = JSON.stringify({ name: c.name, params: c.params, expiresAt: c.expiresAt, timeoutSec: c.timeoutSec });
            return gateway.publishToDevice(tenantId, deviceId, `commands/${c.id}`, payload, { qos: 1 }) !== 'dropped';
          });
        } while (state.again);
      } catch (err) {
        logger.warn({ err, deviceId }, 'mqtt command delivery failed');
      } finally {
        running.delete(key);
      }
    })();
  }

  const unsubscribe: Unsubscribe[] = [
    options.bus.subscribe('command.queued', (e) => {
      if (online(e.tenantId, e.deviceId)) deliver(e.tenantId, e.deviceId);
    }),
    // The event is published while the connection is being accepted: the session it resumes is
    // attached just after, so look once the CONNECT handling has finished.
    options.bus.subscribe('device.connected', (e) => {
      if (e.protocol === 'mqtt') setImmediate(() => deliver(e.tenantId, e.deviceId));
    }),
  ];

  return {
    subscribed(identity, filters) {
      const topic = probe(identity.deviceId);
      if (filters.some((f) => filterMatches(f, topic))) deliver(identity.tenantId, identity.deviceId);
    },
    stop() {
      for (const off of unsubscribe) off();
    },
  };
}
