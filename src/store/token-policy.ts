import type { TokenRecord, TokenRevocation } from './types.js';

/**
 * Maximum time in ms that a store keeps accepting a token after another
 * process revoked it. The API checks a request's token again once the request
 * is older than this, so a slow request cannot outlive a revocation either.
 */
export const TOKEN_RECHECK_MS = 100;

/**
 * Returns why a revocation is rejected, given the active tokens: 'not_found'
 * when none has the id, 'last_admin' when it is the only active admin token,
 * else null. The
 * last admin token is kept because only an admin token can create tokens.
 */
export function rejectedRevocation(active: readonly TokenRecord[], id: number): Exclude<TokenRevocation, 'revoked'> | null {
  const target = active.find((token) => token.id === id);
  if (!target) return 'not_found';
  const otherAdmin = active.some((token) => token.id !== id && token.scopes.includes('admin'));
  if (target.scopes.includes('admin') && !otherAdmin) return 'last_admin';
  return null;
}
