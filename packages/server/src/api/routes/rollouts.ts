import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { isoTime, isoTimeOrNull } from '@hangar/protocol';
import { NewRollout, PageQuery, RolloutDevice, RolloutDeviceListQuery, RolloutDryRun, RolloutListQuery, DeviceUpdate, pageOf, type Rollout, type RolloutCounts } from '@hangar/protocol/rest';
import type { DeviceUpdateRecord, RolloutDevice as CoreRolloutDevice } from '../../core/rollouts/ports.js';
import type { RolloutView } from '../../core/rollouts/rollout-service.js';
import type { StateCounts } from '../../core/rollouts/threshold-judge.js';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const DeviceHistoryQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

const countsView = (c: StateCounts, targeted: number): RolloutCounts => ({ targeted, ...c });

export function rolloutView({ rollout: r, progress }: RolloutView): Rollout {
  const c = r.config;
  return {
    id: r.id,
    name: r.name,
    firmwareId: r.firmwareId,
    firmwareVersion: r.firmwareVersion,
    query: r.query,
    groupId: r.groupId,
    waves: c.waves.map((w) => ({ percent: w.percent, count: w.count })),
    // Unset: every device that did not fail (docs/rollouts.md), which the contract writes as 100.
    successThreshold: c.successThreshold ?? 100,
    failureThreshold: c.failureThreshold,
    maxConcurrent: c.maxConcurrent,
    rate: { perMinute: c.rate.perMinute, currentPerMinute: r.ratePerMinute, exponential: c.rate.exponential },
    deviceTimeoutSec: c.deviceTimeoutSec,
    maintenanceWindow: c.maintenanceWindow,
    approvalBetweenWaves: c.approvalBetweenWaves,
    dynamic: c.dynamic,
    allowDowngrade: c.allowDowngrade,
    useDeltas: c.useDeltas,
    healthGate: c.healthGate,
    state: r.state,
    stateReason: r.stateReason,
    currentWave: r.currentWave,
    waveStates: progress.waves.map((w) => ({ index: w.index, size: w.size, state: w.state, counts: countsView(w.counts, w.size) })),
    counts: countsView(progress.total, progress.targeted),
    createdBy: r.createdBy,
    createdAt: isoTime(r.createdAt),
    updatedAt: isoTime(r.updatedAt),
    finishedAt: isoTimeOrNull(r.finishedAt),
  };
}

function deviceView(d: CoreRolloutDevice): RolloutDevice {
  return {
    deviceId: d.deviceId,
    wave: d.wave,
    state: d.state,
    reason: d.reason,
    error: d.error,
    progress: d.progress,
    fromVersion: d.fromVersion,
    artifact: d.artifact,
    healthUntil: d.state === 'verifying' ? isoTimeOrNull(d.healthUntil) : null,
    offeredAt: isoTimeOrNull(d.offeredAt),
    updatedAt: isoTime(d.updatedAt),
    finishedAt: isoTimeOrNull(d.finishedAt),
  };
}

function updateView(u: DeviceUpdateRecord): DeviceUpdate {
  return {
    rolloutId: u.rolloutId,
    rolloutName: u.rolloutName,
    firmwareId: u.firmwareId,
    firmwareVersion: u.firmwareVersion,
    state: u.state,
    reason: u.reason,
    error: u.error,
    fromVersion: u.fromVersion,
    artifact: u.artifact,
    offeredAt: isoTimeOrNull(u.offeredAt),
    finishedAt: isoTimeOrNull(u.finishedAt),
  };
}

/** Rollouts (DESIGN §6, docs/rollouts.md) and a device's update history. */
export function rolloutRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['rollouts'];

  r.post(
    '/api/v1/rollouts',
    {
      schema: {
        operationId: 'createRollout',
        tags,
        summary: 'Start a staged rollout of a firmware image to a fleet query or a group; operator role',
        description: 'With `dryRun: true` nothing is created: the answer (200) says how many devices the target hits now, which are excluded and why, the wave sizes and the versions they run.',
        body: NewRollout,
        response: { 200: RolloutDryRun, 201: Type.Ref('Rollout'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const made = await services.rollouts.create(ctxOf(req), req.body);
      if ('dryRun' in made) return reply.code(200).send(made);
      return reply.code(201).header('location', `/api/v1/rollouts/${made.rollout.id}`).send(rolloutView(made));
    },
  );

  r.get('/api/v1/rollouts', { schema: { operationId: 'listRollouts', tags, summary: 'Rollouts, newest first', querystring: RolloutListQuery, response: { 200: pageOf(Type.Ref('Rollout')), ...ErrorResponses } } }, async (req) => {
    const page = await services.rollouts.list(ctxOf(req), { state: req.query.state, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
    return { items: page.items.map(rolloutView), nextCursor: page.nextCursor };
  });

  r.get('/api/v1/rollouts/:id', { schema: { operationId: 'getRollout', tags, summary: 'A rollout with its waves and counts per device state', params: IdParams, response: { 200: Type.Ref('Rollout'), ...ErrorResponses } } }, async (req) =>
    rolloutView(await services.rollouts.get(ctxOf(req), req.params.id)),
  );

  const actions = [
    ['pause', 'pauseRollout', 'No new offers until resumed (devices already offered carry on); operator role'],
    ['resume', 'resumeRollout', 'Offer again; the failure threshold counts from now; operator role'],
    ['abort', 'abortRollout', 'Stop for good: no new offers, devices not yet downloading cancelled; operator role'],
    ['approve', 'approveRollout', 'Start the next wave of a rollout awaiting approval; operator role'],
  ] as const;
  for (const [action, operationId, summary] of actions) {
    r.post(`/api/v1/rollouts/:id/${action}`, { schema: { operationId, tags, summary, params: IdParams, response: { 200: Type.Ref('Rollout'), ...ErrorResponses } } }, async (req) =>
      rolloutView(await services.rollouts[action](ctxOf(req), req.params.id)),
    );
  }

  r.get(
    '/api/v1/rollouts/:id/devices',
    { schema: { operationId: 'listRolloutDevices', tags, summary: 'The rollout’s devices with their OTA state, by device id', params: IdParams, querystring: RolloutDeviceListQuery, response: { 200: pageOf(RolloutDevice), ...ErrorResponses } } },
    async (req) => {
      const page = await services.rollouts.devices(ctxOf(req), req.params.id, { state: req.query.state, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(deviceView), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/api/v1/devices/:id/updates',
    { schema: { operationId: 'listDeviceUpdates', tags: ['rollouts', 'devices'], summary: 'A device’s update history: its rollouts, newest first', params: IdParams, querystring: DeviceHistoryQuery, response: { 200: pageOf(DeviceUpdate), ...ErrorResponses } } },
    async (req) => {
      const page = await services.rollouts.deviceUpdates(ctxOf(req), req.params.id, { cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(updateView), nextCursor: page.nextCursor };
    },
  );
}
