/**
 * Connection settings of the management commands: server URL, API token and
 * output format. Each value comes from the first source that sets it: the
 * command-line flags, then DITS_WEBHOOKS_URL and DITS_WEBHOOKS_TOKEN, then a
 * JSON config file (`--config FILE`, or `config.json` in the user's config
 * folder), then the default.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { ApiClient } from './client.js';
import { UsageError } from './errors.js';
import { repeatedJsonKey, withoutByteOrderMark } from '../api/json-body.js';

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

const CONFIG_KEYS = ['url', 'token'] as const;

export interface SettingsFlags {
  url?: string;
  token?: string;
  json?: boolean;
  config?: string;
}

export interface Settings {
  /** Server base URL without a trailing slash. */
  url: string;
  /** API token, or null when no source sets one (the server then returns 401). */
  token: string | null;
  /** Print the API's JSON instead of tables. */
  json: boolean;
}

export interface SettingsSources {
  flags: SettingsFlags;
  env: Record<string, string | undefined>;
  homeDir: string;
  /** Reads a file as UTF-8; returns null when it does not exist. */
  readFile: (path: string) => string | null;
}

/** Returns the config file read when `--config` is absent: `$XDG_CONFIG_HOME/dits-webhook/config.json`, else `~/.config/dits-webhook/config.json`. */
export function defaultConfigPath(env: Record<string, string | undefined>, homeDir: string): string {
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(homeDir, '.config');
  return join(base, 'dits-webhook', 'config.json');
}

/** Resolves the settings from their sources in order; throws UsageError for a bad value or an unreadable config file. */
export function resolveSettings(sources: SettingsSources): Settings {
  const { flags, env } = sources;
  const file = readConfigFile(sources);
  const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

  const candidates: [string | undefined, string][] = [
    [flags.url, '--url'],
    [nonEmpty(env.DITS_WEBHOOKS_URL), 'DITS_WEBHOOKS_URL'],
    [file.values.url, `"url" in ${file.path}`],
  ];
  const chosen = candidates.find(([value]) => value !== undefined);
  const url = chosen ? checkServerUrl(chosen[0] as string, chosen[1]) : DEFAULT_SERVER_URL;
  if (flags.token === '') {
    throw new UsageError('--token is empty; pass the token, or leave the flag out to use DITS_WEBHOOKS_TOKEN or the config file');
  }
  const tokens: [string | undefined, string][] = [
    [flags.token, '--token'],
    [nonEmpty(env.DITS_WEBHOOKS_TOKEN), 'DITS_WEBHOOKS_TOKEN'],
    [file.values.token, `"token" in ${file.path}`],
  ];
  const [token, tokenSource] = tokens.find(([value]) => value !== undefined) ?? [null, ''];
  if (token && /[\s\u0000-\u001f\u007f]/.test(token)) {
    throw new UsageError(`the token from ${tokenSource} contains a space, line break or other control character; remove it (a token read from a file often ends with a newline)`);
  }
  return { url, token: token ? token : null, json: flags.json === true };
}

function checkServerUrl(value: string, source: string): string {
  let parsed: URL | null = null;
  try {
    parsed = new URL(value);
  } catch {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new UsageError(`server URL ${JSON.stringify(value)} from ${source} is not an absolute http or https URL; use a URL such as ${DEFAULT_SERVER_URL}`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new UsageError(`server URL ${JSON.stringify(value)} from ${source} has a query or fragment, which the API paths cannot follow; remove the part from ? or #`);
  }
  return value.replace(/\/+$/, '');
}

function readConfigFile(sources: SettingsSources): { path: string; values: { url?: string; token?: string } } {
  const explicit = sources.flags.config;
  const path = explicit ?? defaultConfigPath(sources.env, sources.homeDir);
  let text: string | null;
  try {
    text = sources.readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${(error as Error).message}; fix its permissions or pass another file with --config`);
  }
  if (text === null) {
    if (explicit !== undefined) throw new UsageError(`config file ${path} does not exist; create it with keys "url" and "token", or drop --config`);
    return { path, values: {} };
  }
  return { path, values: parseConfig(text, path) };
}

/** Parses a config file: a JSON object whose only keys are `url` and `token`, both strings. */
export function parseConfig(file: string, path: string): { url?: string; token?: string } {
  const text = withoutByteOrderMark(file);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON (${(error as Error).message}); write an object such as {"url": "${DEFAULT_SERVER_URL}", "token": "dwt_..."}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError(`config file ${path} must contain a JSON object with keys "url" and "token"`);
  }
  const repeated = repeatedJsonKey(text);
  if (repeated !== null) throw new UsageError(`config file ${path} sets key ${JSON.stringify(repeated)} twice; keep one`);
  const values: { url?: string; token?: string } = {};
  for (const [key, value] of Object.entries(data)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`config file ${path} has unknown key ${JSON.stringify(key)}; the keys are ${CONFIG_KEYS.join(' and ')}`);
    }
    if (typeof value !== 'string') throw new UsageError(`config file ${path}: "${key}" must be a string, got ${value === null ? 'null' : typeof value}`);
    values[key as (typeof CONFIG_KEYS)[number]] = value;
  }
  return values;
}

function readFileOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const GLOBAL_HEADING = 'Global options:';

function settingsOptions(includeUrl: boolean): Option[] {
  const options = [
    new Option('--token <token>', 'API token (overrides DITS_WEBHOOKS_TOKEN)'),
    new Option('--json', 'print the API response as JSON instead of a table'),
    new Option('--config <file>', 'JSON config file with keys url and token (default ~/.config/dits-webhook/config.json)'),
  ];
  if (includeUrl) options.unshift(new Option('--url <url>', `server base URL (overrides DITS_WEBHOOKS_URL; default ${DEFAULT_SERVER_URL})`));
  return options;
}

/**
 * Adds the settings flags to the program, so they may come before the command
 * name. Positional options keep them from capturing the flags of commands that
 * define their own `--url` or `--config`, such as `create` and `serve`.
 */
export function addGlobalSettingsOptions(program: Command): void {
  program.enablePositionalOptions();
  for (const option of settingsOptions(true)) program.addOption(option);
}

/**
 * Adds the settings flags to one command, so they may also follow it.
 * Commands whose own `--url` is a webhook target pass `includeUrl: false`;
 * there the server URL goes before the command name.
 */
export function addSettingsOptions(command: Command, { includeUrl = true } = {}): Command {
  for (const option of settingsOptions(includeUrl)) command.addOption(option.helpGroup(GLOBAL_HEADING));
  return command;
}

/** Collects the settings flags of a command and its ancestors; a flag after the command name wins over one before it. */
export function settingsFlagsOf(command: Command, { urlIsTarget = false } = {}): SettingsFlags {
  const chain: Command[] = [];
  for (let current: Command | null = command; current; current = current.parent) chain.unshift(current);
  const flags: SettingsFlags = {};
  for (const level of chain) {
    const opts = level.opts<SettingsFlags>();
    const own = level === command;
    if (opts.url !== undefined && !(own && urlIsTarget)) flags.url = opts.url;
    if (opts.token !== undefined) flags.token = opts.token;
    if (opts.json !== undefined) flags.json = opts.json;
    if (opts.config !== undefined) flags.config = opts.config;
  }
  return flags;
}

/** Resolves the settings of a running command from its flags, the process environment and the config file. */
export function settingsOf(command: Command, options: { urlIsTarget?: boolean } = {}): Settings {
  return resolveSettings({ flags: settingsFlagsOf(command, options), env: process.env, homeDir: homedir(), readFile: readFileOrNull });
}

/** Resolves the settings and returns them with an API client built from them. */
export function connect(command: Command, options: { urlIsTarget?: boolean } = {}): { settings: Settings; client: ApiClient } {
  const settings = settingsOf(command, options);
  return { settings, client: new ApiClient(settings.url, settings.token) };
}
