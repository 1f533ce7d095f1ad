import { Type, type Static } from 'typebox';

const Counts = Type.Record(Type.String(), Type.Integer());

/** `GET /api/v1/fleet/stats?q=…&firmwareTop=…` */
export const FleetStats = Type.Object(
  {
    total: Type.Integer(),
    online: Type.Integer(),
    offline: Type.Integer(),
    byType: Type.Record(Type.String(), Type.Integer(), { description: 'the 100 most common types' }),
    typeOther: Type.Integer({ description: 'devices of a type not in byType' }),
    byStatus: Counts,
    firmware: Type.Record(Type.String(), Type.Integer(), { description: 'the firmwareTop most common versions, most devices first' }),
    firmwareOther: Type.Integer({ description: 'devices on a version not in firmware' }),
    firmwareUnknown: Type.Integer({ description: 'devices that have not reported a version' }),
    alerts: Type.Object({
      open: Type.Integer({ description: 'raised or acknowledged alerts of the selected devices' }),
      bySeverity: Type.Object({ critical: Type.Integer(), major: Type.Integer(), minor: Type.Integer(), warning: Type.Integer(), info: Type.Integer() }),
      byState: Type.Object({ raised: Type.Integer(), acknowledged: Type.Integer() }),
    }),
  },
  { $id: 'FleetStats' },
);
export type FleetStats = Static<typeof FleetStats>;
