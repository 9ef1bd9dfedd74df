import { createHash, randomBytes } from 'node:crypto';
import type { TokenScope } from '../store/types.js';

export const TOKEN_SCOPES: readonly TokenScope[] = ['admin', 'write', 'events:write', 'read'];

/** Prefix of every API token, so that secret scanners and people can recognise one. */
export const TOKEN_PREFIX = 'dwt_';

/** Scopes that each scope includes: admin can do everything, write also reads and ingests. */
const GRANTS: Record<TokenScope, readonly TokenScope[]> = {
  admin: ['admin', 'write', 'events:write', 'read'],
  write: ['write', 'events:write', 'read'],
  'events:write': ['events:write'],
  read: ['read'],
};

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Decides whether a token with `granted` scopes may call a route that requires `required`. */
export function hasScope(granted: readonly TokenScope[], required: TokenScope): boolean {
  return granted.some((scope) => GRANTS[scope]?.includes(required));
}
