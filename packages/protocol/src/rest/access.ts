import { Type, type Static } from 'typebox';
import { IsoTime, Nullable, Role } from './common.js';
import type { Wire } from './refs.js';

export const Principal = Type.Object(
  {
    tenant: Type.String(),
    type: Type.Union([Type.Literal('user'), Type.Literal('api_key'), Type.Literal('system')]),
    id: Type.String(),
    name: Type.String(),
    role: Role,
  },
  { $id: 'Principal' },
);
export type Principal = Static<typeof Principal>;

/** Dashboard sign-in by username and password, or by API key. */
export const LoginRequest = Type.Union([
  Type.Object({ username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
  Type.Object({ apiKey: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
]);
export type LoginRequest = Static<typeof LoginRequest>;

export const LoginResponse = Type.Object({ principal: Type.Ref('Principal'), expiresAt: Type.String() });
export type LoginResponse = Wire<typeof LoginResponse>;

export const ApiKey = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Role,
    prefix: Type.String(),
    createdAt: IsoTime,
    createdBy: Nullable(Type.String()),
    lastUsedAt: Nullable(IsoTime),
    revokedAt: Nullable(IsoTime),
  },
  { $id: 'ApiKey' },
);
export type ApiKey = Static<typeof ApiKey>;

export const NewApiKey = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), role: Role }, { additionalProperties: false });
export type NewApiKey = Static<typeof NewApiKey>;

/** The answer to creating a key: the only time its token (the secret) is returned. */
export const CreatedApiKey = Type.Intersect([Type.Ref('ApiKey'), Type.Object({ token: Type.String() })]);
export type CreatedApiKey = Wire<typeof CreatedApiKey>;

export const User = Type.Object(
  { id: Type.String(), username: Type.String(), role: Role, createdAt: IsoTime, disabledAt: Nullable(IsoTime) },
  { $id: 'User' },
);
export type User = Static<typeof User>;

export const NewUser = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ minLength: 8, maxLength: 1024 }), role: Role },
  { additionalProperties: false },
);
export type NewUser = Static<typeof NewUser>;

export const UserPatch = Type.Object(
  { role: Type.Optional(Role), password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })) },
  { additionalProperties: false, minProperties: 1 },
);
export type UserPatch = Static<typeof UserPatch>;

export const Tenant = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String() });
export type Tenant = Static<typeof Tenant>;

export const NewTenant = Type.Object({ id: Type.String({ minLength: 1, maxLength: 63 }), name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
export type NewTenant = Static<typeof NewTenant>;

/** A new tenant and its first admin API key (the token is shown once). */
export const CreatedTenant = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String(), adminApiKey: Type.Object({ id: Type.String(), token: Type.String() }) });
export type CreatedTenant = Static<typeof CreatedTenant>;

export const AuditEntry = Type.Object(
  {
    id: Type.Integer(),
    at: IsoTime,
    actor: Type.Object({ type: Type.String(), id: Type.String(), name: Type.String() }),
    action: Type.String(),
    target: Type.Object({ type: Type.String(), id: Type.String() }),
    summary: Type.Record(Type.String(), Type.Unknown()),
    requestId: Nullable(Type.String()),
  },
  { $id: 'AuditEntry' },
);
export type AuditEntry = Static<typeof AuditEntry>;
