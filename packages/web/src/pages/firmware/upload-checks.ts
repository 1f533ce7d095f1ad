/**
 * What the upload form checks before a byte is sent (the server checks it all again). Not the
 * size: the limit is the server's (`--firmware-max-bytes`, 2 GiB by default), and it refuses a
 * too-large image from its Content-Length at once (413).
 */
/** Semantic version 2.0 (semver.org), as the server checks it. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** What the "Integrity and signature" part of the form holds; all optional. */
export interface UploadExtras {
  sha256: string;
  signature: string;
  keyId: string;
  id: string;
}

export const NO_EXTRAS: UploadExtras = { sha256: '', signature: '', keyId: '', id: '' };

/** What is wrong with the form before uploading, or null. */
export function checkUpload(file: { size: number } | undefined, version: string, extras: UploadExtras = NO_EXTRAS): string | null {
  if (!file) return 'Choose the image file to upload';
  if (file.size === 0) return 'The file is empty';
  if (!SEMVER.test(version.trim())) return 'Version must be a semantic version such as 1.4.0 or 2.0.0-rc.1';
  if (extras.sha256.trim() && !/^[0-9a-fA-F]{64}$/.test(extras.sha256.trim())) return 'The SHA-256 must be 64 hexadecimal digits';
  if (extras.signature.trim() && !extras.id.trim()) return 'A signature you bring needs the image id it signed (the manifest names the image)';
  if (extras.id.trim() && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(extras.id.trim())) return 'The image id may hold letters, digits, _ . - (at most 64, not starting with a symbol)';
  return null;
}
