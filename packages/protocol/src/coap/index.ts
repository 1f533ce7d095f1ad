// The CoAP message codec (RFC 7252) and the Block option (RFC 7959), shared by the server's
// CoAP stack and the agent's LwM2M client. A subpath of its own so that the dashboard, which
// imports the package root, never bundles it.
export * from './message.js';
export * from './block-option.js';
