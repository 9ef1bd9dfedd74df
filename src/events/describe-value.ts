/** Describes a received value briefly, so that an error message shows what arrived without echoing a large input. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    if (value.length > 60) return `a string of ${value.length} characters starting with ${JSON.stringify(value.slice(0, 40))}`;
    return `the string ${JSON.stringify(value)}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
