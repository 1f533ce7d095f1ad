// The LwM2M 1.1 data model shared by the server and the agent's client: paths, CoRE link format,
// content-format codecs, typed values and the object registry. A subpath of its own
// (`@hangar/protocol/lwm2m`) so that the dashboard, which imports the package root, never bundles it.
export * from './types.js';
export * from './path.js';
export * from './link-format.js';
export * from './values.js';
export * from './object-model.js';
export { ObjectRegistry, builtinObjectRegistry } from './object-registry.js';
export { parseDdf, MAX_DDF_BYTES } from './ddf.js';
export { telemetryKeyOf } from './telemetry-key.js';
export { LIMITS as LWM2M_LIMITS } from './limits.js';
export { decodeContent, encodeContent, decodeCompositePaths, encodeCompositePaths, type DecodeOptions } from './codecs/content.js';
export { decodeTlvValue, encodeTlvValue } from './codecs/tlv.js';
export { parseWriteAttributes, formatWriteAttributes, type WriteAttributes } from './write-attributes.js';
export type { SenmlOptions } from './codecs/senml.js';
