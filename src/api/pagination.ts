import { ApiError } from '../errors.js';
import { decodeCursor } from '../store/rows.js';

export const DEFAULT_PAGE_SIZE = 30;

/** Reads `limit` and `cursor` from a validated query string. */
export function pageParams(query: { limit?: string; cursor?: string }): { limit: number; cursor?: string } {
  if (query.cursor !== undefined && decodeCursor(query.cursor) === null) {
    throw new ApiError('invalid_request', 'Query parameter cursor is invalid; pass the next_cursor value of the previous page unchanged.', [
      { field: 'query.cursor', message: 'expected a next_cursor value returned by this API' },
    ]);
  }
  return { limit: query.limit ? Number(query.limit) : DEFAULT_PAGE_SIZE, cursor: query.cursor };
}
