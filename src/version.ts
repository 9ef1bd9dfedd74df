import { readFileSync } from 'node:fs';

/** Package version, read once from package.json. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** User-Agent of every delivery request. */
export const USER_AGENT = `Dits-Hookshot/${VERSION}`;
