/** Token revocation: the per-request denylist and the admin operations that feed it. */
export { RevocationList, type RevocationListOptions, type RevocationStatus } from './revocation-list.js';
export type { RevocationCheck } from './denylist.js';
export { revoke, unrevoke, listRevoked, type RevocationTarget, type RevokedIds } from './admin.js';
export { revocationSyncChannel, type RevocationSyncMessage } from './events.js';
export { revocationKeys, type RevocationKeys, type RevocationEvent } from './protocol.js';
