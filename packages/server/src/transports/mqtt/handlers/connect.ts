import { generate, type IConnackPacket, type IConnectPacket } from 'mqtt-packet';
import { ENROLL_USERNAME_PREFIX, isValidDeviceId } from '@hangar/protocol';
import type { DeviceIdentity } from '../../../core/identity/device-authenticator.js';
import { MAX_REASON_STRING, PAUSE_AUTH, type ConnectionState, type EnrollmentState } from '../connection-state.js';
import { pumpDownlinks, resendInflight } from '../downlink-queue.js';
import { connackCode, RC, V3_CONNACK, type ConnectRefusal } from '../reason-codes.js';
import { MqttSession } from '../session-store.js';
import { jsonTelemetryTopic, routePublish } from '../topic-acl.js';

type AuthOutcome =
  | { ok: true; identity: DeviceIdentity; mode: 'device' }
  | { ok: true; mode: 'enrollment'; deviceId: string; enrollment: EnrollmentState }
  | { ok: false; refusal: ConnectRefusal; detail: string };

/** CONNECT: authenticates, claims the device's session and answers CONNACK; packets that came meanwhile are dispatched then. */
export async function handleConnect(conn: ConnectionState, p: IConnectPacket): Promise<void> {
  const gw = conn.gw;
  conn.state = 'authenticating';
  conn.pause(PAUSE_AUTH);
  const version = p.protocolVersion;
  if (version !== 4 && version !== 5) {
    // MQTT 3.1 (level 3) parses but is not offered.
    gw.count('connections_refused');
    conn.state = 'closed';
    conn.closeStream(generate({ cmd: 'connack', returnCode: V3_CONNACK.UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false }));
    conn.cleanup('unsupported protocol version', false);
    return;
  }
  conn.version = version;
  // The parser keeps the CONNECT (with the password) as its settings; keep only the version.
  (conn.parser as unknown as { settings: unknown }).settings = { protocolVersion: version };
  const props = p.properties;
  if (version === 5) {
    if (props?.authenticationMethod !== undefined) return refuse(conn, 'bad_auth_method', 'enhanced authentication is not supported: use a client certificate or username and token');
    if (props?.receiveMaximum) conn.clientReceiveMaximum = props.receiveMaximum;
    if (props?.maximumPacketSize) conn.clientMaximumPacketSize = props.maximumPacketSize;
    if (props?.requestProblemInformation === false) conn.problemInformation = false;
  }

  let auth: AuthOutcome;
  try {
    auth = await authenticate(conn, p);
  } catch (err) {
    gw.logger.error({ err, remoteAddress: conn.remoteAddress }, 'mqtt authentication failed');
    return refuse(conn, 'unavailable', 'authentication is unavailable; try again later');
  }
  if (conn.isClosed()) return;
  if (!auth.ok) return refuse(conn, auth.refusal, auth.detail);

  const deviceId = auth.mode === 'device' ? auth.identity.deviceId : auth.deviceId;
  conn.mode = auth.mode;
  if (auth.mode === 'enrollment') conn.enrollment = auth.enrollment;
  let assignClientId = false;
  if (p.clientId === '') {
    // [MQTT-3.1.3-8] 3.1.1: an empty client id only with a clean session.
    if (auth.mode === 'enrollment') return refuse(conn, 'client_id', 'an enrollment session needs the wanted device id as client id');
    if (version === 4 && !p.clean) return refuse(conn, 'client_id', 'an empty client id needs clean session = 1 (MQTT 3.1.1 §3.1.3.1)');
    assignClientId = version === 5;
  } else if (p.clientId !== deviceId) {
    return refuse(conn, 'client_id', `the client id must be the device id "${deviceId}"`);
  }

  if (p.will) {
    if (p.will.qos === 2 && version === 5) return refuse(conn, 'qos', 'QoS 2 is not supported (Maximum QoS is 1)');
    if (p.will.retain && version === 5) return refuse(conn, 'retain', 'retained messages are not supported');
    const route = routePublish(deviceId, p.will.topic, auth.mode, p.will.properties?.contentType);
    if (route.kind === 'refused' || route.kind === 'enroll') return refuse(conn, 'not_authorized', `the will topic "${p.will.topic}" is not one this device may publish to`);
    conn.will = p.will;
  }

  const limits = gw.limits;
  let keepAliveSec = p.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (keepAliveSec === 0 || keepAliveSec > limits.maxKeepAliveSec) {
    // A device that never pings would hold its connection for ever after a silent network loss.
    keepAliveSec = limits.maxKeepAliveSec;
    if (version === 5) serverKeepAlive = keepAliveSec;
  }
  conn.keepAliveMs = keepAliveSec * 1000;

  let sessionPresent = false;
  let grantedExpiry: number | undefined;
  if (auth.mode === 'enrollment') {
    conn.session = new MqttSession('', deviceId, 0);
    if (version === 5 && (props?.sessionExpiryInterval ?? 0) > 0) grantedExpiry = 0;
  } else {
    const identity = auth.identity;
    let sid: string;
    try {
      sid = await gw.presence.connected(identity, 'mqtt', conn.remoteAddress);
    } catch (err) {
      gw.logger.error({ err, deviceId }, 'mqtt presence failed');
      return refuse(conn, 'unavailable', 'the server cannot record the connection; try again later');
    }
    if (conn.isClosed()) {
      // The device left while presence was recorded.
      gw.presence.disconnected(identity, sid, 'connection closed before CONNACK').catch((err: unknown) => gw.logger.warn({ err, deviceId }, 'mqtt presence failed'));
      return;
    }
    conn.identity = identity;
    conn.presenceSessionId = sid;
    // [MQTT-3.1.4-3] a second connection of the same client takes over from the first.
    const previous = gw.claim(conn);
    if (previous) {
      gw.count('takeovers');
      previous.end('session taken over', { code: RC.SESSION_TAKEN_OVER, will: true });
    }
    const requested = version === 5 ? (props?.sessionExpiryInterval ?? 0) : p.clean ? 0 : limits.maxSessionExpirySec;
    const expirySec = Math.min(requested, limits.maxSessionExpirySec);
    if (version === 5 && expirySec !== requested) grantedExpiry = expirySec;
    const opened = gw.sessions.open(identity.tenantId, deviceId, p.clean !== false, expirySec * 1000);
    conn.session = opened.session;
    sessionPresent = opened.present;
    gw.registerLive(conn);
  }

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent };
  if (version === 5) {
    connack.reasonCode = RC.SUCCESS;
    connack.properties = {
      maximumQoS: 1,
      retainAvailable: false,
      receiveMaximum: limits.receiveMaximum,
      maximumPacketSize: limits.maxPacketSize,
      topicAliasMaximum: limits.topicAliasMaximum,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
      ...(assignClientId ? { assignedClientIdentifier: deviceId } : {}),
      ...(grantedExpiry !== undefined ? { sessionExpiryInterval: grantedExpiry } : {}),
      ...(serverKeepAlive !== undefined ? { serverKeepAlive } : {}),
    };
  } else {
    connack.returnCode = V3_CONNACK.ACCEPTED;
  }
  conn.state = 'open';
  if (conn.mode === 'device') conn.telemetryTopic = Buffer.from(jsonTelemetryTopic(deviceId));
  conn.connectedAt = gw.now();
  conn.lastRx = conn.connectedAt;
  gw.count('connections_accepted');
  conn.send(connack);
  gw.logger.debug({ deviceId, version, mode: conn.mode, sessionPresent, remoteAddress: conn.remoteAddress }, 'mqtt connected');

  const pending = conn.pending;
  conn.pending = undefined;
  for (const packet of pending ?? []) {
    if (conn.state !== 'open') return;
    conn.dispatch(packet);
  }
  if (sessionPresent) resendInflight(conn);
  pumpDownlinks(conn);
  conn.resume(PAUSE_AUTH);
  // The session's subscriptions came back without a SUBSCRIBE: state documents (the desired
  // twin) are sent now, as they would be on subscribe.
  const filters = sessionPresent && conn.mode === 'device' ? conn.session?.subscriptions : undefined;
  if (filters && filters.size > 0) gw.subscribed(conn.identity!, [...filters.keys()], true);
}

async function authenticate(conn: ConnectionState, p: IConnectPacket): Promise<AuthOutcome> {
  const source = conn.remoteAddress ?? 'unknown';
  const username = p.username;
  if (username !== undefined && username.startsWith(ENROLL_USERNAME_PREFIX)) {
    if (!conn.gw.enrollment) return { ok: false, refusal: 'not_authorized', detail: 'MQTT enrollment is not enabled on this server' };
    const groupId = username.slice(ENROLL_USERNAME_PREFIX.length);
    if (groupId === '' || p.password === undefined) return { ok: false, refusal: 'bad_credentials', detail: 'enrollment needs username "$enroll/{enrollmentGroupId}" and the claim token as password' };
    if (!isValidDeviceId(p.clientId)) return { ok: false, refusal: 'client_id', detail: 'the client id must be the wanted device id (letters, digits, . _ : -, at most 128)' };
    if (!conn.gw.admitEnrollment()) return { ok: false, refusal: 'rate_limited', detail: 'too many enrollment sessions; try again later' };
    return { ok: true, mode: 'enrollment', deviceId: p.clientId, enrollment: { groupId, claimToken: p.password.toString('utf8'), busy: false, result: undefined } };
  }
  let result;
  if (username !== undefined && p.password !== undefined) {
    result = await conn.gw.authenticator.authenticateToken(username, p.password.toString('utf8'), source);
  } else if (conn.clientCertificate) {
    result = await conn.gw.authenticator.authenticateCertificate(conn.clientCertificate, source);
  } else {
    return { ok: false, refusal: 'bad_credentials', detail: 'no credentials: present a client certificate, or username = device id and password = token' };
  }
  if (!result.ok) return { ok: false, refusal: result.reason, detail: result.detail };
  return { ok: true, mode: 'device', identity: result.identity };
}

/** Refuses the CONNECT; credential failures answer late, to slow down guessing. */
function refuse(conn: ConnectionState, refusal: ConnectRefusal, detail: string): void {
  if (conn.state === 'closed') return;
  const gw = conn.gw;
  gw.count('connections_refused');
  gw.logger.debug({ refusal, detail, remoteAddress: conn.remoteAddress }, 'mqtt connection refused');
  const packet: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  if (conn.version === 5) {
    packet.reasonCode = connackCode(refusal, 5);
    if (conn.problemInformation) packet.properties = { reasonString: detail.slice(0, MAX_REASON_STRING) };
  } else {
    packet.returnCode = connackCode(refusal, 4);
  }
  const bytes = generate(packet, { protocolVersion: conn.version });
  conn.state = 'closed';
  conn.cleanup(`refused: ${refusal}`, false);
  const slow = refusal === 'bad_credentials' || refusal === 'not_authorized' || refusal === 'rate_limited';
  if (slow && gw.limits.refusalDelayMs > 0) {
    setTimeout(() => conn.closeStream(bytes), gw.limits.refusalDelayMs).unref();
  } else {
    conn.closeStream(bytes);
  }
}
