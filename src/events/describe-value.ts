/**
 * Quotes text as JSON, with invisible format characters (zero-width spaces
 * and joiners, bidirectional controls, soft hyphens) written as escapes such
 * as \u200b, so that a quoted value that differs only by them shows how.
 */
function quote(text: string): string {
  return JSON.stringify(text).replace(/\p{Cf}/gu, (char) => {
    const code = char.codePointAt(0) as number;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Describes a received value briefly, so that an error message shows what arrived without echoing a large input. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    if (value.length > 60) return `a string of ${value.length} characters starting with ${quote(value.slice(0, 40))}`;
    return `the string ${quote(value)}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
