export { CoapDeviceEndpoint, DEFAULT_LIMITS, type CoapDeviceEndpointOptions, type CoapLimits } from './device-endpoint.js';
export { commandReader, twinUplink, type CommandReader, type DeviceUplink, type LogUplink, type TwinReader } from './device-ports.js';
export { CoapServer, DEFAULT_TIMING, type CoapRequest, type CoapRequestHandler, type CoapResponse, type CoapSender, type CoapServerOptions, type CoapTiming, type DeliveryOutcome } from './coap-server.js';
export { CoapRequestError, requesterByChannel, type CoapRequester, type CoapRequestErrorReason, type IncomingResponse, type Observation, type OutgoingRequest, type RequestOptions } from './coap-requester.js';
export { routeByFirstSegment } from './coap-router.js';
export { UdpChannel, UDP_MAX_PAYLOAD } from './udp-channel.js';
