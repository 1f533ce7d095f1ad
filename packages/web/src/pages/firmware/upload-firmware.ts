/**
 * `POST /api/v1/firmware` with the image as the raw request body. XMLHttpRequest rather than
 * `fetch`: only XHR reports upload progress (`upload.onprogress`), and it streams a `File` from
 * disk, so an image of 2 GiB is never read into the page's memory.
 */
import { API_PREFIX, apiUrl, problemFromResponse } from '@hangar/protocol/rest-client';
import { ApiError, reportUnauthorized, type Firmware } from '../../api.ts';

export interface FirmwareUploadMeta {
  version: string;
  /** Comma-separated; empty = any device type. */
  deviceTypes: string;
  releaseNotes: string;
  /** Declared SHA-256: the server refuses (and keeps nothing) when the bytes differ. */
  sha256?: string | undefined;
  /** A signature made with the tenant's external key instead of Hangar signing; needs `id` (the manifest names the image). */
  signature?: string | undefined;
  keyId?: string | undefined;
  id?: string | undefined;
}

export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface FirmwareUpload {
  /** The stored image, or an `ApiError` (the server's problem, a network failure, a cancel). */
  done: Promise<Firmware>;
  cancel(): void;
}

export function uploadFirmware(file: Blob, meta: FirmwareUploadMeta, onProgress: (progress: UploadProgress) => void): FirmwareUpload {
  const xhr = new XMLHttpRequest();
  const query = {
    version: meta.version,
    deviceTypes: meta.deviceTypes || undefined,
    releaseNotes: meta.releaseNotes || undefined,
    sha256: meta.sha256 || undefined,
    signature: meta.signature || undefined,
    keyId: meta.keyId || undefined,
    id: meta.id || undefined,
  };
  const done = new Promise<Firmware>((resolve, reject) => {
    xhr.open('POST', apiUrl(API_PREFIX, '/firmware', query));
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json, application/problem+json');
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      const text = xhr.responseText;
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(text) as Firmware);
        } catch {
          reject(new ApiError({ status: xhr.status, title: 'Unexpected response', detail: 'the server answered the upload with a body that is not JSON' }));
        }
        return;
      }
      if (xhr.status === 401) reportUnauthorized();
      // The shared decoder reads problem+json from a Response: give it one.
      const headers = { 'content-type': xhr.getResponseHeader('content-type') ?? '' };
      reject(problemFromResponse(new Response(text, { status: xhr.status, statusText: xhr.statusText, headers }), text));
    };
    // A server that refuses early (a duplicate version, a size limit) may close the connection
    // before it read the whole body; the browser then reports a network error, not the answer.
    xhr.onerror = () => reject(new ApiError({ status: 0, title: 'Upload failed', detail: 'the connection to the server broke off during the upload' }));
    xhr.onabort = () => reject(new ApiError({ status: 0, title: 'Upload cancelled' }));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}
