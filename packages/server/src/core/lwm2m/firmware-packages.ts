import type { OtaActiveOffer } from '@hangar/protocol';
import { HangarError } from '../../errors.js';
import type { ArtifactDownloads } from '../firmware/artifact-downloads.js';
import type { Lwm2mRegistration } from './ports.js';

/** Where an LwM2M device gets a firmware package from (docs/ota.md, "LwM2M devices (Object 5)"). */
export interface FirmwarePackages {
  /** The absolute Package URI of an offer's download path for this device, or undefined when Hangar knows no address the device can pull from. */
  pullUri(registration: Lwm2mRegistration, downloadPath: string): string | undefined;
  /** The whole image of an offer, for a push (Block1 write of 5/0/0). */
  read(offer: OtaActiveOffer): Promise<Buffer>;
}

export interface FirmwarePackageOptions {
  /**
   * The host devices reach Hangar's CoAP ports at (`--lwm2m-firmware-host`). With it, a device
   * pulls from `coap://host:port` or `coaps://host:port` — as it is connected — at the CoAP
   * device API's firmware path (Block2); without it (and without `httpBaseUrl`), Hangar pushes.
   */
  coapHost?: string | undefined;
  /** Pull over HTTP(S) instead: the device API's base URL, e.g. `https://hangar.example.com` (wins over `coapHost`). */
  httpBaseUrl?: string | undefined;
  /** The bound CoAP and CoAPS ports (known once `hangar serve` listens). */
  ports(): { coap: number | undefined; coaps: number | undefined };
  downloads: Pick<ArtifactDownloads, 'open'>;
  /** A pushed package is held in memory whole: larger images are refused (default 16 MiB). */
  maxPushBytes?: number | undefined;
}

const DEFAULT_MAX_PUSH_BYTES = 16 * 1024 * 1024;

/** Package URIs from the installation's addresses, and pushed images read through the download token of the offer. */
export class InstallationFirmwarePackages implements FirmwarePackages {
  constructor(private readonly options: FirmwarePackageOptions) {}

  pullUri(registration: Lwm2mRegistration, downloadPath: string): string | undefined {
    if (this.options.httpBaseUrl) return `${this.options.httpBaseUrl.replace(/\/+$/, '')}${downloadPath}`;
    const host = this.options.coapHost;
    if (!host) return undefined;
    const ports = this.options.ports();
    // The scheme the device registered over: a DTLS device has its PSK or certificate for coaps://, a NoSec one may have nothing else.
    const port = registration.contact.secure ? ports.coaps : ports.coap;
    if (port === undefined) return undefined;
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    return `${registration.contact.secure ? 'coaps' : 'coap'}://${h}:${port}${downloadPath}`;
  }

  async read(offer: OtaActiveOffer): Promise<Buffer> {
    const url = new URL(offer.url, 'http://offer.invalid');
    const artifact = await this.options.downloads.open({ firmwareId: offer.manifest.firmwareId }, url.searchParams.get('t') ?? undefined);
    const max = this.options.maxPushBytes ?? DEFAULT_MAX_PUSH_BYTES;
    if (artifact.size > max) throw new HangarError('PAYLOAD_TOO_LARGE', `the ${artifact.size}-byte image is larger than a push may be (${max} bytes): configure a package host so devices pull it`);
    const chunks: Buffer[] = [];
    for await (const chunk of artifact.read()) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
}
