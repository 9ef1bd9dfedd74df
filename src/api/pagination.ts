import { createHash } from 'node:crypto';
import { ApiError } from '../errors.js';
import { decodeCursor } from '../store/rows.js';

export const DEFAULT_PAGE_SIZE = 30;

/**
 * Reads `limit` and `cursor` from a validated query string. `list` names the
 * list a cursor belongs to, such as `deliveries:7`: the API hands out cursors
 * from `nextCursor` tagged with it, so a cursor taken to another list is
 * rejected rather than paging that list from an unrelated position.
 */
export function pageParams(query: { limit?: string; cursor?: string }, list: string): { limit: number; cursor?: string } {
  const limit = query.limit ? Number(query.limit) : DEFAULT_PAGE_SIZE;
  if (query.cursor === undefined) return { limit };
  const sealed = Buffer.from(query.cursor, 'base64url').toString('utf8');
  const mark = sealed.lastIndexOf('~');
  const text = sealed.slice(0, mark);
  const separator = text.lastIndexOf('@');
  const storeCursor = text.slice(separator + 1);
  // The check value catches a cursor cut short in copying, which would otherwise page from an earlier position.
  if (mark < 0 || sealed.slice(mark + 1) !== checkValue(text) || separator < 0 || decodeCursor(storeCursor) === null) {
    throw new ApiError('invalid_request', 'Query parameter cursor is invalid; pass the next_cursor value of the previous page unchanged.', [
      { field: 'query.cursor', message: 'expected a next_cursor value returned by this API' },
    ]);
  }
  if (text.slice(0, separator) !== list) {
    throw new ApiError('invalid_request', 'Query parameter cursor belongs to another list; pass the next_cursor value of this list\'s previous page.', [
      { field: 'query.cursor', message: 'expected a next_cursor value returned by this list' },
    ]);
  }
  return { limit, cursor: storeCursor };
}

/** Tags a store's next-page cursor with the list it belongs to and a check value, for `pageParams`. */
export function nextCursor(list: string, storeCursor: string | null): string | null {
  if (storeCursor === null) return null;
  const text = `${list}@${storeCursor}`;
  return Buffer.from(`${text}~${checkValue(text)}`).toString('base64url');
}

/** Returns 8 characters of the SHA-256 of a cursor's text; not a secret, only a guard against damage. */
function checkValue(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 8);
}
