/**
 * Output of the management commands: aligned tables and field lists for
 * people, JSON for scripts. Text from the server or from webhook receivers
 * passes through `sanitize`, so a response body cannot move the cursor or
 * recolour the terminal.
 */

/** Replaces control characters (escape sequences and bidirectional controls included) by visible `\uXXXX` escapes; keeps line breaks and tabs when asked. */
export function sanitize(text: string, { keepLineBreaks = false } = {}): string {
  // Bidirectional controls (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) count too: they reorder the text shown around them.
  const pattern = keepLineBreaks ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g : /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  return text.replace(pattern, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Formats rows under upper-case headers, columns separated by two spaces, without trailing spaces. */
export function formatTable(headers: string[], rows: string[][]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((row) => row.map((cell) => sanitize(cell)))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => [...(row[column] ?? '')].length)));
  const lines = cells.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell + ' '.repeat(widths[column] - [...cell].length)))
      .join('  ')
      .trimEnd(),
  );
  return lines.join('\n') + '\n';
}

/** Formats `label: value` lines with the values aligned. */
export function formatFields(fields: [string, string][]): string {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1));
  return fields.map(([label, value]) => `${(label + ':').padEnd(width)}  ${sanitize(value)}`.trimEnd()).join('\n') + '\n';
}

/** Shows an ISO 8601 time to the second, or `-` when absent. */
export function formatTime(iso: unknown): string {
  if (typeof iso !== 'string') return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Shows any value in a table cell: strings as they are, null as `-`, lists comma-separated. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** Prints a value as indented JSON, the `--json` output of every command. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
