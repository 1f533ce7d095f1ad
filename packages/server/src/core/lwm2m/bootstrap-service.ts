import type { Logger } from 'pino';
import type { Lwm2mValue } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import type { Stores } from '../stores.js';
import { newId } from '../tenancy/secrets.js';
import { requireRole } from '../tenancy/principal.js';
import type { Lwm2mEndpointAuth } from './endpoint-auth.js';
import type { ObjectModelService } from './object-models.js';
import type { BootstrapConfig, BootstrapServerAccount, Lwm2mContact, Lwm2mDeviceLink, Lwm2mRequest, Lwm2mTarget } from './ports.js';

/** A PSK for a device, made by the credential service (a `psk` credential) for a bootstrap to hand out. */
export interface PskIssuer {
  issuePsk(tenantId: string, deviceId: string): Promise<{ identity: string; key: Buffer }>;
}

export interface BootstrapConfigInput {
  deviceId?: string | null | undefined;
  enrollmentGroupId?: string | null | undefined;
  deleteExisting?: boolean | undefined;
  servers: Array<Partial<BootstrapServerAccount> & { uri: string }>;
}

export interface BootstrapServiceOptions {
  link: Lwm2mDeviceLink;
  auth: Lwm2mEndpointAuth;
  models: ObjectModelService;
  /** Absent: configurations with `securityMode: 'psk'` are refused at bootstrap time. */
  psk?: PskIssuer | undefined;
  logger?: Logger | undefined;
  now?: () => number;
}

export type BootstrapOutcome = { deviceId: string; ok: true } | { deviceId: string; ok: false; error: string };

const MAX_SERVERS = 4;
const URI_PATTERN = /^coaps?:\/\/[^\s/?#]+(\/[^\s]*)?$/;
// Security object (0) resources, LwM2M 1.1 TS-Core Appendix E.1.
const SEC = { uri: 0, bootstrap: 1, mode: 2, identity: 3, serverKey: 4, secretKey: 5, ssid: 10 } as const;
const MODE = { psk: 0, nosec: 3 } as const;
// Server object (1) resources, Appendix E.2.
const SRV = { ssid: 0, lifetime: 1, storing: 6, binding: 7 } as const;

/**
 * The LwM2M bootstrap server (TS-Core §5.2.7, §6.1) on Hangar's model: a configuration per device
 * or per enrollment group says which server accounts (Security object 0 + Server object 1
 * instances) to write; a `psk` account gets a freshly minted PSK credential. A Bootstrap-Request
 * is answered at once (2.04) and the writes follow, then Bootstrap-Finish.
 */
export class BootstrapService {
  private readonly now: () => number;
  private readonly running = new Set<Promise<BootstrapOutcome>>();
  private readonly listeners: Array<(o: BootstrapOutcome) => void> = [];

  constructor(
    private readonly stores: Stores,
    private readonly options: BootstrapServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Told how each bootstrap ended (tests, logs). */
  onOutcome(listener: (o: BootstrapOutcome) => void): void {
    this.listeners.push(listener);
  }

  /**
   * A Bootstrap-Request (§6.1.3): checks the endpoint and that a configuration exists, then
   * starts writing it once the caller has answered. Throws to refuse (4.03, 4.04).
   */
  async request(input: { endpoint: string; principal?: DeviceIdentity | undefined; contact: Lwm2mContact; preferredFormat?: number }): Promise<{ start(): void }> {
    const identity = await this.options.auth.authorize(input.endpoint, input.principal, input.contact.address);
    const device = await this.stores.devices.get(identity.tenantId, identity.deviceId);
    const group = typeof device?.attributes.enrollmentGroup === 'string' ? device.attributes.enrollmentGroup : null;
    const config = await this.stores.lwm2m.findBootstrapConfig(identity.tenantId, identity.deviceId, group);
    if (!config) throw new HangarError('NOT_FOUND', `no bootstrap configuration for endpoint "${input.endpoint}"`);
    if (config.servers.some((s) => s.securityMode === 'psk') && !this.options.psk) throw new HangarError('NOT_READY', 'this server cannot hand out PSKs');
    const registry = await this.options.models.registryFor(identity.tenantId);
    const target: Lwm2mTarget = { tenantId: identity.tenantId, deviceId: identity.deviceId, contact: input.contact, rootPath: '/', contentFormats: input.preferredFormat !== undefined ? [input.preferredFormat] : [], lwm2mVersion: '1.1', registry };
    return {
      start: () => {
        const run = this.run(target, config);
        this.running.add(run);
        void run.finally(() => this.running.delete(run));
      },
    };
  }

  /** Waits for bootstraps under way (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async run(target: Lwm2mTarget, config: BootstrapConfig): Promise<BootstrapOutcome> {
    let outcome: BootstrapOutcome;
    try {
      const steps = await this.plan(target, config);
      for (const step of steps) {
        const res = await this.options.link.request(target, step);
        // §6.1.7.3: deleting what is not there is no failure; anything else stops the bootstrap.
        if (!res.success && !(step.op === 'delete' && res.code === '4.04')) throw new Error(`${step.op} ${'path' in step ? JSON.stringify(step.path) : ''} answered ${res.code}`);
      }
      outcome = { deviceId: target.deviceId, ok: true };
    } catch (err) {
      outcome = { deviceId: target.deviceId, ok: false, error: err instanceof Error ? err.message : String(err) };
      this.options.logger?.info({ deviceId: target.deviceId, err }, 'lwm2m: bootstrap failed');
    }
    for (const l of this.listeners) l(outcome);
    return outcome;
  }

  /** The requests of one bootstrap, in order: deletes, a Security and a Server instance per account, Bootstrap-Finish. */
  private async plan(target: Lwm2mTarget, config: BootstrapConfig): Promise<Lwm2mRequest[]> {
    const steps: Lwm2mRequest[] = [];
    if (config.deleteExisting) steps.push({ op: 'delete', path: { objectId: 0 } }, { op: 'delete', path: { objectId: 1 } });
    for (const [i, server] of config.servers.entries()) {
      // Instance 0 of the Security object usually holds the bootstrap account: new accounts start at 1.
      const instanceId = i + 1;
      let identity: Buffer = Buffer.alloc(0);
      let secret: Buffer = Buffer.alloc(0);
      if (server.securityMode === 'psk') {
        const psk = await this.options.psk!.issuePsk(target.tenantId, target.deviceId);
        identity = Buffer.from(psk.identity, 'utf8');
        secret = psk.key;
      }
      const sec = (resourceId: number, type: Lwm2mValue['type'], value: Lwm2mValue['value']): Lwm2mValue => ({ path: { objectId: 0, instanceId, resourceId }, type, value });
      const srv = (resourceId: number, type: Lwm2mValue['type'], value: Lwm2mValue['value']): Lwm2mValue => ({ path: { objectId: 1, instanceId, resourceId }, type, value });
      steps.push({
        op: 'write',
        mode: 'replace',
        path: { objectId: 0, instanceId },
        values: [
          sec(SEC.uri, 'String', server.uri),
          sec(SEC.bootstrap, 'Boolean', false),
          sec(SEC.mode, 'Integer', MODE[server.securityMode]),
          sec(SEC.identity, 'Opaque', identity),
          sec(SEC.serverKey, 'Opaque', Buffer.alloc(0)),
          sec(SEC.secretKey, 'Opaque', secret),
          sec(SEC.ssid, 'Integer', server.shortServerId),
        ],
      });
      steps.push({
        op: 'write',
        mode: 'replace',
        path: { objectId: 1, instanceId },
        values: [srv(SRV.ssid, 'Integer', server.shortServerId), srv(SRV.lifetime, 'Integer', server.lifetimeSec), srv(SRV.storing, 'Boolean', server.notificationStoring), srv(SRV.binding, 'String', server.binding)],
      });
    }
    steps.push({ op: 'bootstrap-finish' });
    return steps;
  }

  // --- configurations (REST) ---

  async list(ctx: CallContext): Promise<BootstrapConfig[]> {
    return this.stores.lwm2m.listBootstrapConfigs(ctx.principal.tenantId);
  }

  async get(ctx: CallContext, id: string): Promise<BootstrapConfig> {
    const c = await this.stores.lwm2m.getBootstrapConfig(ctx.principal.tenantId, id);
    if (!c) throw new HangarError('NOT_FOUND', `bootstrap configuration "${id}" does not exist`);
    return c;
  }

  async create(ctx: CallContext, input: BootstrapConfigInput): Promise<BootstrapConfig> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const now = this.now();
    const config: BootstrapConfig = { id: newId('bsc'), tenantId, ...checkTarget(input), deleteExisting: input.deleteExisting ?? true, servers: checkServers(input.servers), createdAt: now, updatedAt: now };
    await this.stores.transaction(async (tx) => {
      if (config.deviceId !== null && !(await tx.devices.get(tenantId, config.deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${config.deviceId}" does not exist`);
      if (config.enrollmentGroupId !== null && (await tx.identity.getEnrollmentGroup(config.enrollmentGroupId))?.tenantId !== tenantId) throw new HangarError('NOT_FOUND', `enrollment group "${config.enrollmentGroupId}" does not exist`);
      const taken = (await tx.lwm2m.listBootstrapConfigs(tenantId)).find((c) => (config.deviceId !== null && c.deviceId === config.deviceId) || (config.enrollmentGroupId !== null && c.enrollmentGroupId === config.enrollmentGroupId));
      if (taken) throw new HangarError('CONFLICT', `bootstrap configuration "${taken.id}" already covers this ${config.deviceId !== null ? 'device' : 'enrollment group'}`);
      await tx.lwm2m.insertBootstrapConfig(config);
      await recordAudit(tx.audit, ctx, { action: 'lwm2m.bootstrap_config.create', target: { type: 'lwm2m_bootstrap_config', id: config.id }, summary: { after: summaryOf(config) } }, now);
    });
    return config;
  }

  async replace(ctx: CallContext, id: string, input: Omit<BootstrapConfigInput, 'deviceId' | 'enrollmentGroupId'>): Promise<BootstrapConfig> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const now = this.now();
    return this.stores.transaction(async (tx) => {
      const before = await tx.lwm2m.getBootstrapConfig(tenantId, id);
      if (!before) throw new HangarError('NOT_FOUND', `bootstrap configuration "${id}" does not exist`);
      const after: BootstrapConfig = { ...before, deleteExisting: input.deleteExisting ?? before.deleteExisting, servers: checkServers(input.servers), updatedAt: now };
      await tx.lwm2m.updateBootstrapConfig(after);
      await recordAudit(tx.audit, ctx, { action: 'lwm2m.bootstrap_config.update', target: { type: 'lwm2m_bootstrap_config', id }, summary: { before: summaryOf(before), after: summaryOf(after) } }, now);
      return after;
    });
  }

  async remove(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.stores.transaction(async (tx) => {
      if (!(await tx.lwm2m.deleteBootstrapConfig(tenantId, id))) throw new HangarError('NOT_FOUND', `bootstrap configuration "${id}" does not exist`);
      await recordAudit(tx.audit, ctx, { action: 'lwm2m.bootstrap_config.delete', target: { type: 'lwm2m_bootstrap_config', id } }, this.now());
    });
  }
}

function summaryOf(c: BootstrapConfig): Record<string, unknown> {
  return { deviceId: c.deviceId, enrollmentGroupId: c.enrollmentGroupId, deleteExisting: c.deleteExisting, servers: c.servers };
}

function invalid(path: string, message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', `${path} ${message}`, { errors: [{ path: `body/${path}`, message }] });
}

function checkTarget(input: BootstrapConfigInput): { deviceId: string | null; enrollmentGroupId: string | null } {
  const deviceId = input.deviceId ?? null;
  const enrollmentGroupId = input.enrollmentGroupId ?? null;
  if ((deviceId === null) === (enrollmentGroupId === null)) throw invalid('deviceId', 'give exactly one of deviceId and enrollmentGroupId');
  return { deviceId, enrollmentGroupId };
}

function checkServers(servers: BootstrapConfigInput['servers']): BootstrapServerAccount[] {
  if (!Array.isArray(servers) || servers.length === 0 || servers.length > MAX_SERVERS) throw invalid('servers', `must list 1–${MAX_SERVERS} server accounts`);
  const ids = new Set<number>();
  return servers.map((s, i) => {
    const shortServerId = s.shortServerId ?? i + 1;
    if (!Number.isInteger(shortServerId) || shortServerId < 1 || shortServerId > 65534) throw invalid(`servers/${i}/shortServerId`, 'must be 1–65534');
    if (ids.has(shortServerId)) throw invalid(`servers/${i}/shortServerId`, 'is used twice');
    ids.add(shortServerId);
    if (typeof s.uri !== 'string' || !URI_PATTERN.test(s.uri) || s.uri.length > 255) throw invalid(`servers/${i}/uri`, 'must be a coap:// or coaps:// URI');
    const securityMode = s.securityMode ?? (s.uri.startsWith('coaps:') ? 'psk' : 'nosec');
    if (securityMode !== 'psk' && securityMode !== 'nosec') throw invalid(`servers/${i}/securityMode`, 'must be "psk" or "nosec"');
    if ((securityMode === 'psk') !== s.uri.startsWith('coaps:')) throw invalid(`servers/${i}/securityMode`, `"${securityMode}" does not go with ${s.uri.split(':')[0]}://`);
    const lifetimeSec = s.lifetimeSec ?? 300;
    if (!Number.isInteger(lifetimeSec) || lifetimeSec < 1 || lifetimeSec > 365 * 86_400) throw invalid(`servers/${i}/lifetimeSec`, 'must be 1 s – 1 year');
    const binding = s.binding ?? 'U';
    if (!/^(?!.*(.).*\1)[UTSNQ]{1,5}$/.test(binding)) throw invalid(`servers/${i}/binding`, 'must combine U, T, S, N and Q');
    return { shortServerId, uri: s.uri, securityMode, lifetimeSec, binding, notificationStoring: s.notificationStoring ?? true };
  });
}
