import type { Logger } from 'pino';
import { HangarError } from '../../errors.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import type { PresenceTracker } from '../presence/presence-tracker.js';
import { PeriodicTask } from '../periodic-task.js';
import type { Stores } from '../stores.js';
import { newId } from '../tenancy/secrets.js';
import type { Lwm2mContact, Lwm2mRegistration, RegisteredObjectLinks } from './ports.js';
import type { Lwm2mEndpointAuth } from './endpoint-auth.js';

/** LwM2M 1.1 TS-Core §6.2.1: the lifetime a Register without `lt` gets. */
export const DEFAULT_LIFETIME_SEC = 86_400;
/** A registration may not outlive a year without an update: longer is a typo, not a device. */
export const MAX_LIFETIME_SEC = 365 * 86_400;
const BINDING_PATTERN = /^(?!.*(.).*\1)[UTSNQ]{1,5}$/;
const VERSION_PATTERN = /^1\.[0-9]$/;
const SMS_PATTERN = /^\+?[0-9]{1,20}$/;
const MAX_OBJECT_LINKS = 1024;

/** What a Register carries (§6.2.1), as the transport decoded it. */
export interface RegisterInput {
  endpoint: string;
  lifetimeSec?: number | undefined;
  lwm2mVersion?: string | undefined;
  binding?: string | undefined;
  /** The `Q` parameter (1.1) or a `Q` in the 1.0 binding. */
  queueMode?: boolean | undefined;
  smsNumber?: string | undefined;
  rootPath: string;
  objects: RegisteredObjectLinks[];
  contentFormats?: number[] | undefined;
  contact: Lwm2mContact;
  /** The DTLS-authenticated device, when the request came over DTLS. */
  principal?: DeviceIdentity | undefined;
}

/** What an Update may change (§6.2.2); absent fields keep their values. */
export interface UpdateInput {
  registrationId: string;
  lifetimeSec?: number | undefined;
  binding?: string | undefined;
  queueMode?: boolean | undefined;
  smsNumber?: string | undefined;
  rootPath?: string | undefined;
  objects?: RegisteredObjectLinks[] | undefined;
  contact: Lwm2mContact;
  principal?: DeviceIdentity | undefined;
}

export type RegistrationListener = (event: { kind: 'registered' | 'updated' | 'deregistered' | 'expired'; registration: Lwm2mRegistration }) => void;

export interface RegistrationServiceOptions {
  presence: PresenceTracker;
  auth: Lwm2mEndpointAuth;
  logger?: Logger | undefined;
  now?: () => number;
  /** How often expired registrations are swept (default 5 s). */
  sweepIntervalMs?: number;
}

/**
 * The LwM2M registration interface (TS-Core §6.2) on Hangar's model: the endpoint name is the
 * device id, a registration opens a presence session (`lwm2m`) that its de-registration or the
 * end of its lifetime closes. One registration per device; a new Register replaces the old one.
 */
export class RegistrationService {
  private readonly now: () => number;
  private readonly listeners: RegistrationListener[] = [];
  private readonly sweeper: PeriodicTask;
  /** Registrations whose presence session this process opened (presence ends a node's sessions on restart). */
  private readonly liveSessions = new Map<string, string>();

  constructor(
    private readonly stores: Stores,
    private readonly options: RegistrationServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sweeper = new PeriodicTask(
      () => this.expireDue(),
      (err) => options.logger?.warn({ err }, 'lwm2m: registration expiry sweep failed'),
    );
  }

  start(): void {
    const every = this.options.sweepIntervalMs ?? 5000;
    this.sweeper.start(every, every);
  }

  stop(): void {
    this.sweeper.stop();
  }

  /** Device management hears of every registration change (flushes queued requests, reads Object 3). */
  onChange(listener: RegistrationListener): void {
    this.listeners.push(listener);
  }

  async register(input: RegisterInput): Promise<Lwm2mRegistration> {
    const identity = await this.options.auth.authorize(input.endpoint, input.principal, input.contact.address);
    const lifetimeSec = checkLifetime(input.lifetimeSec ?? DEFAULT_LIFETIME_SEC);
    const lwm2mVersion = input.lwm2mVersion ?? '1.0';
    if (!VERSION_PATTERN.test(lwm2mVersion)) throw new HangarError('VALIDATION_FAILED', `lwm2m version "${lwm2mVersion}" is not one this server speaks (1.x)`);
    const binding = checkBinding(input.binding ?? 'U');
    const smsNumber = checkSms(input.smsNumber);
    checkObjects(input.objects);
    const now = this.now();
    const before = await this.stores.lwm2m.getRegistration(identity.tenantId, identity.deviceId);
    const sessionId = await this.options.presence.connected(identity, 'lwm2m', input.contact.address);
    const registration: Lwm2mRegistration = {
      id: newId('reg'),
      tenantId: identity.tenantId,
      deviceId: identity.deviceId,
      lifetimeSec,
      lwm2mVersion,
      binding,
      queueMode: input.queueMode === true || binding.includes('Q'),
      smsNumber,
      rootPath: input.rootPath,
      objects: input.objects,
      contentFormats: input.contentFormats ?? [],
      contact: input.contact,
      credentialId: identity.credentialId,
      sessionId,
      registeredAt: now,
      updatedAt: now,
      expiresAt: now + lifetimeSec * 1000,
    };
    await this.stores.lwm2m.putRegistration(registration);
    if (before) {
      this.liveSessions.delete(before.id);
      // The old registration's period ends; session ids are ordered, so this never takes the new one offline.
      if (before.sessionId) await this.options.presence.disconnected(identityOf(before), before.sessionId, 'registered again');
    }
    this.liveSessions.set(registration.id, sessionId);
    this.options.logger?.debug({ deviceId: identity.deviceId, registrationId: registration.id }, 'lwm2m: registered');
    this.emit('registered', registration);
    return registration;
  }

  async update(input: UpdateInput): Promise<Lwm2mRegistration> {
    const before = await this.requireOwn(input.registrationId, input.principal, input.contact);
    const lifetimeSec = input.lifetimeSec !== undefined ? checkLifetime(input.lifetimeSec) : before.lifetimeSec;
    const binding = input.binding !== undefined ? checkBinding(input.binding) : before.binding;
    if (input.objects) checkObjects(input.objects);
    const now = this.now();
    const identity = identityOf(before);
    let sessionId = this.liveSessions.get(before.id);
    if (sessionId === undefined) {
      // Registered before this process started (its session ended with the old process): open one again.
      sessionId = await this.options.presence.connected(identity, 'lwm2m', input.contact.address);
      this.liveSessions.set(before.id, sessionId);
    } else {
      this.options.presence.seen(identity);
    }
    const registration: Lwm2mRegistration = {
      ...before,
      lifetimeSec,
      binding,
      queueMode: input.queueMode ?? (input.binding !== undefined ? binding.includes('Q') : before.queueMode),
      smsNumber: input.smsNumber !== undefined ? checkSms(input.smsNumber) : before.smsNumber,
      rootPath: input.rootPath ?? before.rootPath,
      objects: input.objects ?? before.objects,
      contact: input.contact,
      sessionId,
      updatedAt: now,
      expiresAt: now + lifetimeSec * 1000,
    };
    await this.stores.lwm2m.putRegistration(registration);
    this.emit('updated', registration);
    return registration;
  }

  async deregister(registrationId: string, principal: DeviceIdentity | undefined, contact: Lwm2mContact): Promise<void> {
    const registration = await this.requireOwn(registrationId, principal, contact);
    await this.end(registration, 'deregistered');
  }

  /** The device's live registration (undefined once de-registered or expired). */
  async get(tenantId: string, deviceId: string): Promise<Lwm2mRegistration | undefined> {
    const r = await this.stores.lwm2m.getRegistration(tenantId, deviceId);
    return r && r.expiresAt > this.now() ? r : undefined;
  }

  /** Whether the tenant has this device (REST answers 404 for a device that does not exist). */
  async deviceExists(tenantId: string, deviceId: string): Promise<boolean> {
    return (await this.stores.devices.get(tenantId, deviceId)) !== undefined;
  }

  /** Ends every registration whose lifetime passed; returns how many. */
  async expireDue(): Promise<number> {
    let ended = 0;
    for (;;) {
      const due = await this.stores.lwm2m.listExpired(this.now(), 200);
      for (const r of due) if (await this.end(r, 'expired')) ended += 1;
      if (due.length < 200 || this.sweeper.stopped) return ended;
    }
  }

  /** Ends a device's registration (credential revoked, device suspended); false when it had none. */
  async endFor(tenantId: string, deviceId: string, reason: 'deregistered' | 'expired'): Promise<boolean> {
    const r = await this.stores.lwm2m.getRegistration(tenantId, deviceId);
    return r ? this.end(r, reason) : false;
  }

  private async end(registration: Lwm2mRegistration, kind: 'deregistered' | 'expired'): Promise<boolean> {
    if (!(await this.stores.lwm2m.deleteRegistration(registration.tenantId, registration.deviceId, registration.id))) return false;
    const sessionId = this.liveSessions.get(registration.id) ?? registration.sessionId;
    this.liveSessions.delete(registration.id);
    if (sessionId) await this.options.presence.disconnected(identityOf(registration), sessionId, kind === 'expired' ? 'lifetime expired' : 'deregistered');
    this.options.logger?.debug({ deviceId: registration.deviceId, registrationId: registration.id, kind }, 'lwm2m: registration ended');
    this.emit(kind, registration);
    return true;
  }

  /**
   * An Update or De-register must come from the device that registered: over DTLS the session's
   * device; a registration made over DTLS cannot be changed over plain CoAP.
   */
  private async requireOwn(registrationId: string, principal: DeviceIdentity | undefined, contact: Lwm2mContact): Promise<Lwm2mRegistration> {
    const r = await this.stores.lwm2m.findRegistration(registrationId);
    if (!r || r.expiresAt <= this.now()) throw new HangarError('LWM2M_REGISTRATION_NOT_FOUND', `no registration at /rd/${registrationId}`);
    if (principal && (principal.deviceId !== r.deviceId || principal.tenantId !== r.tenantId)) {
      throw new HangarError('FORBIDDEN', `registration /rd/${registrationId} belongs to another endpoint`);
    }
    if (!principal && (r.contact.secure || contact.secure)) throw new HangarError('FORBIDDEN', `registration /rd/${registrationId} was made over DTLS; update it over DTLS`);
    return r;
  }

  private emit(kind: 'registered' | 'updated' | 'deregistered' | 'expired', registration: Lwm2mRegistration): void {
    for (const listener of this.listeners) {
      try {
        listener({ kind, registration });
      } catch (err) {
        this.options.logger?.warn({ err }, 'lwm2m: registration listener failed');
      }
    }
  }
}

export function identityOf(r: Lwm2mRegistration): DeviceIdentity {
  return { tenantId: r.tenantId, deviceId: r.deviceId, credentialId: r.credentialId };
}

function checkLifetime(lt: number): number {
  if (!Number.isInteger(lt) || lt < 1 || lt > MAX_LIFETIME_SEC) throw new HangarError('VALIDATION_FAILED', `lifetime must be a whole number of seconds, 1–${MAX_LIFETIME_SEC}`);
  return lt;
}

function checkBinding(b: string): string {
  // TS-Core §6.2.1.1 / 1.0 §5.3.1.1: U, T (1.1), S, N (1.1), Q (1.0 queue); each letter once.
  if (!BINDING_PATTERN.test(b)) throw new HangarError('VALIDATION_FAILED', `binding "${b.slice(0, 16)}" is not a combination of U, T, S, N and Q`);
  return b;
}

function checkSms(sms: string | undefined): string | null {
  if (sms === undefined || sms === '') return null;
  if (!SMS_PATTERN.test(sms)) throw new HangarError('VALIDATION_FAILED', 'sms must be an MSISDN (digits, optional +)');
  return sms;
}

function checkObjects(objects: RegisteredObjectLinks[]): void {
  const links = objects.reduce((n, o) => n + 1 + o.instances.length, 0);
  if (links > MAX_OBJECT_LINKS) throw new HangarError('VALIDATION_FAILED', `a registration may list at most ${MAX_OBJECT_LINKS} object links`);
}
