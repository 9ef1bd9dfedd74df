// Token storage and the client of the /v1 management API.

const TOKEN_KEY = 'dits-webhooks.token';

// The page is served at <root>/dashboard/, so the API root is one level up.
// Resolving it from the page address keeps the dashboard working behind a
// reverse proxy that mounts the service under a path prefix.
const API_ROOT = new URL('../', document.baseURI);

/** Returns the bearer token of this browser tab, or null before sign-in. */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A failed API call: the HTTP status (0 when no response arrived), the API's error code and its message. */
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiFailure';
    this.status = status;
    this.code = code;
  }
}

/** Joins path segments into an API path, percent-encoding each segment. */
export function apiPath(...segments) {
  return segments.map((segment) => encodeURIComponent(String(segment))).join('/');
}

function buildUrl(path, query) {
  const url = new URL(path.replace(/^\/+/, ''), API_ROOT);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  return url;
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Sends one API request with the stored token (or `options.token`) and
 * returns the parsed JSON body. Throws an ApiFailure for any status other
 * than 2xx and when the server cannot be reached.
 */
export async function callApi(method, path, options = {}) {
  const token = options.token ?? storedToken();
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }

  let response;
  try {
    response = await fetch(buildUrl(path, options.query), { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch (error) {
    throw new ApiFailure(0, 'network_error', `The server did not respond (${error.message}); check that it is running.`);
  }
  const json = await readJson(response);
  if (!response.ok) {
    const error = json && typeof json === 'object' ? json.error : null;
    const code = typeof error?.code === 'string' ? error.code : 'http_error';
    const message = typeof error?.message === 'string' ? error.message : `The server returned HTTP ${response.status}.`;
    throw new ApiFailure(response.status, code, message);
  }
  return json;
}

/** The record of the stored token, as GET /v1/token returned it, and the token it belongs to. */
let tokenRecord = { token: null, record: null };

/**
 * Returns the name and scopes of the stored token, read once per token from
 * GET /v1/token, or null when the server could not tell (the call failed).
 */
export async function currentToken() {
  const token = storedToken();
  if (!token) return null;
  if (tokenRecord.token === token) return tokenRecord.record;
  try {
    const record = await callApi('GET', '/v1/token', { token });
    // A sign-out or another sign-in while the call ran makes this response stale.
    if (storedToken() !== token) return null;
    tokenRecord = { token, record };
    return record;
  } catch (error) {
    // The page's own API calls report a rejected token; here only the scopes stay unknown.
    console.warn(`Reading the token's scopes failed: ${error.message}`);
    return null;
  }
}

/** Drops the record read for the stored token, after the API rejected that token. */
export function forgetTokenRecord() {
  tokenRecord = { token: null, record: null };
}

/** Tells whether scopes allow the write actions: ping, activate, deactivate and redeliver. */
export function grantsWrite(scopes) {
  return scopes.includes('admin') || scopes.includes('write');
}

/**
 * Turns an error into a message for people, with the fix for token problems.
 * `rejectedTokenFix` is the advice on a 401, which differs between the
 * sign-in form and a signed-in page.
 */
export function describeFailure(error, rejectedTokenFix = 'Sign out and sign in with a valid token.') {
  if (!(error instanceof ApiFailure)) return `The dashboard failed: ${String(error?.message ?? error)}`;
  if (error.status === 401) {
    return `The API rejected the token (401 ${error.code}): ${error.message} ${rejectedTokenFix}`;
  }
  if (error.status === 403) {
    return `The token lacks the scope for this action (403 ${error.code}): ${error.message} Viewing needs the read scope; redeliver, ping and activate need write.`;
  }
  if (error.status === 0) return error.message;
  return `${error.status} ${error.code}: ${error.message}`;
}

/**
 * Calls `check` until it returns a truthy value, at most `attempts` times
 * with `intervalMs` between calls; returns the last value (falsy on timeout).
 */
export async function pollUntil(check, attempts = 20, intervalMs = 500) {
  let value;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    value = await check();
    if (value) return value;
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return value;
}
