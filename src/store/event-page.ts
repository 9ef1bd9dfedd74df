/**
 * The payload budget of a page of events. Each stored event carries up to
 * maxEventBodyBytes (10 MiB by default), so a page of 100 such events would
 * build a response of about a gigabyte. Stores read the payload sizes first
 * and load only the events that fit.
 */

/**
 * Most payload bytes that one page of events carries. A page always has at
 * least one event. A client that does not read keeps its response in the
 * server's memory, so the budget bounds what each such request keeps there.
 */
// NOTE: this bounds the memory of each request, not of all together: many clients that do not read still add up
// until the idle limit of connections (two minutes by default) closes theirs.
export const EVENT_PAGE_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** The payload budget of one read of an event stream. */
export const EVENT_STREAM_PAYLOAD_BYTES = 1024 * 1024;

/** Counts the leading events, given their payload sizes in page order, that fit in a page of at most `limit` events and `budget` bytes. */
export function eventsThatFit(sizes: readonly number[], limit: number, budget: number = EVENT_PAGE_PAYLOAD_BYTES): number {
  let total = 0;
  let count = 0;
  for (const size of sizes) {
    if (count >= limit) break;
    if (count > 0 && total + size > budget) break;
    total += size;
    count++;
  }
  return count;
}
