import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestOtaPort, testOffer } from '../../testing/test-ota-port.js';
import { RawClient, startMqttTestbed, type MqttTestbed } from './gateway-test-fixture.js';
import { MqttOtaOfferPush } from './ota-offer-push.js';

/**
 * The OTA offer as a state message, seen by a raw MQTT 5 client that holds its PUBACKs: an
 * offer still queued behind the device's Receive Maximum is replaced by a newer one, and one
 * unacknowledged when the device went away is not re-sent on its return (the current one is).
 */
describe('the MQTT OTA offer push', () => {
  let tb: MqttTestbed;
  let push: MqttOtaOfferPush;
  const port = new TestOtaPort();
  const raws: RawClient[] = [];

  beforeAll(async () => {
    tb = await startMqttTestbed({ gateway: { subscribed: (identity, filters) => push.subscribed(identity, filters) } });
    port.attach(tb.th.hangar.bus);
    push = new MqttOtaOfferPush(tb.gateway, port, tb.th.hangar.bus, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    push?.stop();
    for (const r of raws) r.end();
    await tb?.close();
  });

  async function connect(id: string, token: string, receiveMaximum: number): Promise<RawClient> {
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token), clean: false, properties: { sessionExpiryInterval: 600, receiveMaximum } });
    raws.push(r);
    return r;
  }
  const payloadOf = (p: { payload: Buffer | string }): unknown => JSON.parse(p.payload.toString());

  it('replaces an offer still queued behind the Receive Maximum with the newer one', async () => {
    const id = 'push-queued';
    const { token } = await tb.device(id);
    const r = await connect(id, token, 1);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/ota`, qos: 1 }] });
    await r.next('suback');
    const first = await r.next('publish');
    expect(payloadOf(first)).toEqual({ deploymentId: null });
    // Not acknowledged: the window of one is full, so the next offers wait in the session.
    port.offer('default', id, testOffer('r-a'));
    await push.drain();
    port.offer('default', id, testOffer('r-b'));
    await push.drain();
    r.send({ cmd: 'puback', messageId: first.messageId! });
    const next = await r.next('publish');
    expect(payloadOf(next)).toEqual(testOffer('r-b'));
    r.send({ cmd: 'puback', messageId: next.messageId! });
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    expect(r.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('does not re-send an unacknowledged offer on resume: the device gets the current one', async () => {
    const id = 'push-inflight';
    const { token } = await tb.device(id);
    const r = await connect(id, token, 1);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/ota`, qos: 1 }] });
    await r.next('suback');
    await r.next('publish');
    port.offer('default', id, testOffer('r-old'));
    await push.drain();
    // Away without acknowledging anything; the offer changes meanwhile.
    r.send({ cmd: 'disconnect', reasonCode: 0 });
    await r.closed;
    port.withdraw('default', id);
    const again = await connect(id, token, 10);
    const got = await again.next('publish');
    expect(payloadOf(got)).toEqual({ deploymentId: null });
    again.send({ cmd: 'puback', messageId: got.messageId! });
    again.send({ cmd: 'pingreq' });
    await again.next('pingresp');
    expect(again.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
  });
});
