import type { LinkEntry, Lwm2mPath, Lwm2mValue, ObjectRegistry } from '@hangar/protocol/lwm2m';

/**
 * The LwM2M context's ports (docs/lwm2m.md): what it stores (`Lwm2mStore`, implemented in
 * store/kysely/lwm2m-store.ts) and how it reaches a device (`Lwm2mDeviceLink`, implemented over
 * CoAP in transports/lwm2m/coap-device-link.ts). Nothing here knows CoAP or SQL.
 */

/** An object the device announced at registration (LwM2M 1.1 TS-Core §6.2.1.1). */
export interface RegisteredObjectLinks {
  objectId: number;
  version?: string;
  instances: number[];
}

/**
 * Where a device can be reached, as the transport saw it. `key` is the transport's peer key (a
 * DTLS session or "address:port"); core only stores and hands it back.
 */
export interface Lwm2mContact {
  key: string;
  address: string;
  port: number;
  /** True when the device came over DTLS. */
  secure: boolean;
}

/** One live registration of a device (one per device: a new Register replaces the old one). */
export interface Lwm2mRegistration {
  /** Registration id; the location the device updates (`/rd/{id}`). */
  id: string;
  tenantId: string;
  /** Endpoint name = device id. */
  deviceId: string;
  lifetimeSec: number;
  lwm2mVersion: string;
  /** Binding mode as sent (`U`, `UQ`, `T`…; LwM2M 1.1 has the `Q` parameter instead of the letter). */
  binding: string;
  queueMode: boolean;
  smsNumber: string | null;
  /** The alternate root path of the objects (`/` without one). */
  rootPath: string;
  objects: RegisteredObjectLinks[];
  /** Content formats the device announced (the `ct` of `</>;rt="oma.lwm2m"`); empty when none. */
  contentFormats: number[];
  contact: Lwm2mContact;
  /** The credential the device registered with (`lwm2m:nosec` on plain CoAP); revoking it ends the registration. */
  credentialId: string;
  /** The presence session this registration opened, if any. */
  sessionId: string | null;
  registeredAt: number;
  updatedAt: number;
  /** `updatedAt + lifetime`: past it, without an update, the registration expires. */
  expiresAt: number;
}

/** One LwM2M server account a bootstrap writes (Security object 0 + Server object 1 instance). */
export interface BootstrapServerAccount {
  shortServerId: number;
  /** `coap://…:5683` or `coaps://…:5684`. */
  uri: string;
  /** `psk`: a PSK credential is minted for the device and written; `nosec`: no security. */
  securityMode: 'psk' | 'nosec';
  lifetimeSec: number;
  binding: string;
  /** Store notifications while offline (Server object resource 6). */
  notificationStoring: boolean;
}

/** What a bootstrap writes to a device or to every device of an enrollment group. */
export interface BootstrapConfig {
  id: string;
  tenantId: string;
  /** Exactly one of deviceId and enrollmentGroupId is set. */
  deviceId: string | null;
  enrollmentGroupId: string | null;
  /** Delete existing Security and Server instances first (Bootstrap-Delete of /0 and /1). */
  deleteExisting: boolean;
  servers: BootstrapServerAccount[];
  createdAt: number;
  updatedAt: number;
}

/** An operator's DDF upload (an OMA object model, LWM2M.xsd). */
export interface StoredObjectModel {
  tenantId: string;
  objectId: number;
  version: string;
  name: string;
  ddfXml: string;
  createdAt: number;
}

export interface Lwm2mStore {
  /** Inserts or replaces the device's registration. */
  putRegistration(r: Lwm2mRegistration): Promise<void>;
  getRegistration(tenantId: string, deviceId: string): Promise<Lwm2mRegistration | undefined>;
  /** By registration id, across tenants: an Update names only its location. */
  findRegistration(id: string): Promise<Lwm2mRegistration | undefined>;
  /** Removes the registration if it is still this one; false when it was gone or replaced. */
  deleteRegistration(tenantId: string, deviceId: string, id: string): Promise<boolean>;
  /** Registrations whose lifetime ended before `now`, oldest first. */
  listExpired(now: number, limit: number): Promise<Lwm2mRegistration[]>;

  insertBootstrapConfig(c: BootstrapConfig): Promise<void>;
  updateBootstrapConfig(c: BootstrapConfig): Promise<boolean>;
  getBootstrapConfig(tenantId: string, id: string): Promise<BootstrapConfig | undefined>;
  listBootstrapConfigs(tenantId: string): Promise<BootstrapConfig[]>;
  deleteBootstrapConfig(tenantId: string, id: string): Promise<boolean>;
  /** The device's own configuration, else its enrollment group's. */
  findBootstrapConfig(tenantId: string, deviceId: string, enrollmentGroupId: string | null): Promise<BootstrapConfig | undefined>;

  putObjectModel(m: StoredObjectModel): Promise<void>;
  listObjectModels(tenantId: string): Promise<StoredObjectModel[]>;
  deleteObjectModel(tenantId: string, objectId: number, version: string): Promise<boolean>;
}

/** The device-management operations (LwM2M 1.1 TS-Core §6.3) and bootstrap writes (§6.1). */
export type Lwm2mRequest =
  | { op: 'read'; path: Lwm2mPath; format?: number }
  | { op: 'discover'; path: Lwm2mPath }
  | { op: 'write'; path: Lwm2mPath; mode: 'replace' | 'partial'; values: Lwm2mValue[]; format?: number }
  | { op: 'write-attributes'; path: Lwm2mPath; attributes: Record<string, string | number | null> }
  | { op: 'execute'; path: Lwm2mPath; args?: string }
  | { op: 'create'; path: Lwm2mPath; values: Lwm2mValue[]; format?: number }
  | { op: 'delete'; path: Lwm2mPath }
  | { op: 'read-composite'; paths: Lwm2mPath[]; format?: number }
  | { op: 'observe'; path: Lwm2mPath; format?: number }
  | { op: 'observe-composite'; paths: Lwm2mPath[]; format?: number }
  | { op: 'bootstrap-finish' };

/** The LwM2M response codes (TS-Core §6; CoAP codes as "2.05"). */
export interface Lwm2mResponse {
  /** "2.01", "2.02", "2.04", "2.05", "4.04"… */
  code: string;
  /** True for 2.xx. */
  success: boolean;
  values?: Lwm2mValue[];
  links?: LinkEntry[];
  /** A Create's new instance location (`/3303/1`). */
  location?: string;
  /** A device's diagnostic payload on an error. */
  diagnostic?: string;
}

/** What the link needs to encode and decode for one device. */
export interface Lwm2mTarget {
  tenantId: string;
  deviceId: string;
  contact: Lwm2mContact;
  rootPath: string;
  /** Content formats the device announced (or none: the link picks by LwM2M version). */
  contentFormats: number[];
  lwm2mVersion: string;
  /** Resource types for the codecs: the built-in models plus the tenant's uploaded ones. */
  registry: ObjectRegistry;
}

/**
 * How core reaches a device. `request` rejects with LWM2M_DEVICE_UNREACHABLE when the device did
 * not answer and with LWM2M_BAD_DEVICE_RESPONSE when its answer could not be read; an error code
 * from the device is a response with `success: false`.
 */
export interface Lwm2mDeviceLink {
  request(target: Lwm2mTarget, req: Lwm2mRequest): Promise<Lwm2mResponse>;
  /** `op` is `observe` or `observe-composite`; `onNotify` gets each notification's values in order. */
  observe(target: Lwm2mTarget, req: Lwm2mRequest, onNotify: (values: Lwm2mValue[]) => void): Promise<{ first: Lwm2mResponse; cancel(): Promise<void> }>;
}
