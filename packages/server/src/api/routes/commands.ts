import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { isoTime, isoTimeOrNull } from '@hangar/protocol';
import { CommandListQuery, NewCommand, pageOf, type DeviceCommand } from '@hangar/protocol/rest';
import type { Command } from '../../core/commands/ports.js';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const DeviceParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const CommandParams = Type.Object({ id: Type.String({ maxLength: 256 }), cmdId: Type.String({ maxLength: 256 }) });

export function commandView(c: Command): DeviceCommand {
  return {
    id: c.id,
    deviceId: c.deviceId,
    name: c.name,
    params: c.params,
    state: c.state,
    timeoutSec: c.timeoutSec,
    ttlSec: c.ttlSec,
    expiresAt: isoTime(c.expiresAt),
    result: c.result,
    error: c.error,
    roundTripMs: c.roundTripMs,
    createdBy: c.createdBy,
    jobId: c.jobId,
    createdAt: isoTime(c.createdAt),
    sentAt: isoTimeOrNull(c.sentAt),
    completedAt: isoTimeOrNull(c.completedAt),
  };
}

/** Commands to one device (docs/commands.md): operators send and cancel, viewers read. */
export function commandRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['commands'];

  r.post(
    '/api/v1/devices/:id/commands',
    {
      schema: {
        operationId: 'sendCommand',
        tags,
        summary: 'Queue a command for a device; operator role',
        description: 'The command waits (durably) until the device is online, at most `ttlSec`; once sent the device has `timeoutSec` to answer. Any valid name is accepted: a device that does not know it answers `failed`.',
        params: DeviceParams,
        body: NewCommand,
        response: { 201: Type.Ref('DeviceCommand'), 413: Type.Ref('Problem'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const command = await services.commands.send(ctxOf(req), req.params.id, req.body);
      return reply.code(201).header('location', `/api/v1/devices/${encodeURIComponent(command.deviceId)}/commands/${command.id}`).send(commandView(command));
    },
  );

  r.get(
    '/api/v1/devices/:id/commands',
    { schema: { operationId: 'listCommands', tags, summary: 'A device’s commands, newest first', params: DeviceParams, querystring: CommandListQuery, response: { 200: pageOf(Type.Ref('DeviceCommand')), ...ErrorResponses } } },
    async (req) => {
      const page = await services.commands.list(ctxOf(req), req.params.id, { state: req.query.state, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(commandView), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/api/v1/devices/:id/commands/:cmdId',
    { schema: { operationId: 'getCommand', tags, summary: 'One command with its state and result', params: CommandParams, response: { 200: Type.Ref('DeviceCommand'), ...ErrorResponses } } },
    async (req) => commandView(await services.commands.get(ctxOf(req), req.params.id, req.params.cmdId)),
  );

  r.post(
    '/api/v1/devices/:id/commands/:cmdId/cancel',
    { schema: { operationId: 'cancelCommand', tags, summary: 'Cancel a queued or sent command; operator role', params: CommandParams, response: { 200: Type.Ref('DeviceCommand'), ...ErrorResponses } } },
    async (req) => commandView(await services.commands.cancel(ctxOf(req), req.params.id, req.params.cmdId)),
  );
}
