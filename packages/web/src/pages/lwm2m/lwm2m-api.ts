/**
 * The dashboard's client for the LwM2M REST API (docs/lwm2m.md, "REST"): device management on
 * `/api/v1/devices/{id}/lwm2m/…`, the object registry and bootstrap configurations. Kept beside
 * the LwM2M pages rather than in `api.ts`: only they speak it.
 */
import { API_PREFIX, ApiError, apiUrl, decodeAnswer } from '@hangar/protocol/rest-client';
import {
  reportUnauthorized,
  request,
  type Lwm2mBootstrapConfig,
  type Lwm2mBootstrapConfigInput,
  type Lwm2mDeviceView,
  type Lwm2mObjectModelView,
  type Lwm2mOperationResult,
} from '../../api.ts';

export type HeldRequest = Lwm2mDeviceView['pending'][number];
export type DeviceObject = Lwm2mDeviceView['objects'][number];
export type ResourceModel = DeviceObject['resources'][number];

/** 200 (the device answered) or 202 (held for a queue-mode device until it wakes up). */
export type OperationAnswer = Lwm2mOperationResult | { status: 'queued'; requestId: string };

/** A held request as `GET …/lwm2m/requests/{id}` shows it, with the device's answer once it came. */
export type HeldRequestStatus = HeldRequest;

export type BootstrapConfigChange = Omit<Lwm2mBootstrapConfigInput, 'deviceId' | 'enrollmentGroupId'>;

/** Notification attributes (TS-Core §5.1.2) a form can set; null removes one. */
export type Lwm2mAttributes = Partial<Record<'pmin' | 'pmax' | 'gt' | 'lt' | 'st', number | null>>;

const enc = encodeURIComponent;

/** `/3303/0/5700` → `3303/0/5700` under the device's `lwm2m` route (path segments are numbers). */
function on(deviceId: string, path: string, action?: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  return `/devices/${enc(deviceId)}/lwm2m/${segments.map(enc).join('/')}${action ? `/${action}` : ''}`;
}

export const lwm2mApi = {
  device: (deviceId: string): Promise<Lwm2mDeviceView> => request('GET', `/devices/${enc(deviceId)}/lwm2m`),
  read: (deviceId: string, path: string): Promise<OperationAnswer> => request('GET', on(deviceId, path)),
  discover: (deviceId: string, path: string): Promise<OperationAnswer> => request('GET', on(deviceId, path, 'discover')),
  /** Write-Replace of one resource. */
  write: (deviceId: string, path: string, value: unknown): Promise<OperationAnswer> => request('PUT', on(deviceId, path), { body: { value } }),
  execute: (deviceId: string, path: string, args: string): Promise<OperationAnswer> =>
    request('POST', on(deviceId, path), { body: args === '' ? {} : { args } }),
  observe: (deviceId: string, path: string): Promise<OperationAnswer> => request('POST', on(deviceId, path, 'observe'), { body: {} }),
  cancelObserve: (deviceId: string, path: string): Promise<void> => request('DELETE', on(deviceId, path, 'observe')),
  writeAttributes: (deviceId: string, path: string, attributes: Lwm2mAttributes): Promise<OperationAnswer> =>
    request('PUT', on(deviceId, path, 'attributes'), { body: attributes }),
  heldRequest: (deviceId: string, requestId: string): Promise<HeldRequestStatus> =>
    request('GET', `/devices/${enc(deviceId)}/lwm2m/requests/${enc(requestId)}`),

  listObjects: async (): Promise<Lwm2mObjectModelView[]> => (await request<{ items: Lwm2mObjectModelView[] }>('GET', '/lwm2m/objects')).items,
  uploadObjects: (xml: string): Promise<{ items: Array<{ id: number; name: string; version: string }> }> => postXml('/lwm2m/objects', xml),
  deleteObject: (objectId: number, version: string): Promise<void> => request('DELETE', `/lwm2m/objects/${objectId}/${enc(version)}`),

  listBootstrapConfigs: async (): Promise<Lwm2mBootstrapConfig[]> =>
    (await request<{ items: Lwm2mBootstrapConfig[] }>('GET', '/lwm2m/bootstrap-configs')).items,
  createBootstrapConfig: (body: Lwm2mBootstrapConfigInput): Promise<Lwm2mBootstrapConfig> => request('POST', '/lwm2m/bootstrap-configs', { body }),
  replaceBootstrapConfig: (id: string, body: BootstrapConfigChange): Promise<Lwm2mBootstrapConfig> =>
    request('PUT', `/lwm2m/bootstrap-configs/${enc(id)}`, { body }),
  deleteBootstrapConfig: (id: string): Promise<void> => request('DELETE', `/lwm2m/bootstrap-configs/${enc(id)}`),
};

/** A DDF file goes up as it is (`application/xml`), not wrapped in JSON. */
async function postXml<T>(path: string, xml: string): Promise<T> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(apiUrl(API_PREFIX, path), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json, application/problem+json', 'content-type': 'application/xml' },
      body: xml,
    });
    text = await res.text();
  } catch (err) {
    throw new ApiError({ status: 0, title: 'Network error', detail: `Could not reach the server: ${String(err)}` });
  }
  if (res.status === 401) reportUnauthorized();
  return decodeAnswer<T>(res, text, `POST ${path}`);
}
