/**
 * Preloaded into the LwM2M bench's server child (`NODE_OPTIONS=--import tsx --import <this
 * file>`): every simulated device comes from 127.0.0.1, and the DTLS server's per-address
 * limits (DEFAULT_DTLS_LIMITS: 256 sessions, 16 handshakes at once per source address) — there
 * to stop one host from taking the whole server — would refuse all but the first 256 devices.
 * A real fleet comes from many addresses; the bench raises the per-address limits to the
 * server-wide ones (10,000 sessions, 1,000 handshakes), which stay as they are. `hangar serve`
 * has no flag for these limits; the child runs the TypeScript source (HANGAR_FROM_SOURCE), so
 * this module is the one the server imports.
 */
import { DEFAULT_DTLS_LIMITS } from '../../packages/server/src/transports/dtls/dtls-server.js';

DEFAULT_DTLS_LIMITS.maxSessionsPerAddress = DEFAULT_DTLS_LIMITS.maxSessions;
DEFAULT_DTLS_LIMITS.maxHandshakesPerAddress = DEFAULT_DTLS_LIMITS.maxHandshakes;
