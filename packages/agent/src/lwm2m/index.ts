// The agent's LwM2M 1.1 client: a simulated device for the simulator and the benchmarks.
export { Lwm2mClient, Lwm2mClientError, type Lwm2mClientOptions, type Lwm2mClientEvent, type Lwm2mClientStats } from './lwm2m-client.js';
export { Lwm2mFleet, runLwm2mFleet, type Lwm2mFleetOptions, type Lwm2mFleetDevice, type Lwm2mFleetStats, type Lwm2mFleetSummary } from './lwm2m-fleet.js';
export { CoapEndpoint, CoapRequestError, type CoapTiming, type OutgoingRequest, type CoapResponse } from './coap-endpoint.js';
export { openUdpTransport, openDtlsTransport, parseCoapUri, TransportError, type DatagramTransport, type PskCredentials } from './transport.js';
export { FirmwareState, UpdateResult, type FirmwareFailures } from './firmware-update.js';
export { parsePskFile } from './lwm2m-simulate.js';
