// Dashboard routes live in the URL fragment, so the server serves one page
// and a reload or a shared link opens the same view:
//   #/                                   repositories
//   #/repos/12  or  #/owners/studio      webhooks of a repository or an owner
//   #/repos/12/hooks/3?status=failed     a webhook and its deliveries
//   #/repos/12/hooks/3/deliveries/<id>   one delivery and its attempts
// Query parameters of a webhook route are passed to the deliveries API
// unchanged: status, event and limit (page size, 1 to 100).

const SCOPE = String.raw`(repos/(\d+)|owners/([^/?#]+))`;
const PATTERNS = [
  ['repositories', new RegExp('^/?$')],
  ['webhooks', new RegExp(`^/${SCOPE}$`)],
  ['webhook', new RegExp(`^/${SCOPE}/hooks/(\\d+)$`)],
  ['delivery', new RegExp(`^/${SCOPE}/hooks/(\\d+)/deliveries/([^/?#]+)$`)],
];

/** Describes the repository whose webhooks are shown, with its dashboard route and API path. */
export function repositoryScope(repoId) {
  const id = String(repoId);
  return { kind: 'repo', repoId: id, label: `Repository ${id}`, route: `/repos/${id}`, api: `/v1/repos/${id}` };
}

/** A delivery id: a UUID. Anything else, such as "..", which a URL would resolve as a path step, does not match. */
const DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An owner login as the API accepts it; "." and "..", which a URL would resolve as path steps, do not match. */
export const OWNER_LOGIN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Describes the owner whose webhooks are shown, with its dashboard route and API path. */
export function ownerScope(owner) {
  const encoded = encodeURIComponent(owner);
  return { kind: 'owner', owner, label: `Owner ${owner}`, route: `/owners/${encoded}`, api: `/v1/owners/${encoded}` };
}

/** Builds the route of a webhook, optionally with delivery filters. */
export function webhookRoute(scope, hookId, params) {
  const query = params ? new URLSearchParams([...params].filter(([, value]) => value !== '')).toString() : '';
  return `${scope.route}/hooks/${hookId}${query ? `?${query}` : ''}`;
}

export function deliveryRoute(scope, hookId, deliveryId) {
  return `${scope.route}/hooks/${hookId}/deliveries/${encodeURIComponent(deliveryId)}`;
}

/**
 * Parses a location fragment such as `#/repos/1/hooks/2?status=failed` into
 * `{name, scope, hookId, deliveryId, params}`; an unknown fragment yields the
 * name `not_found`.
 */
export function parseRoute(hash) {
  const text = hash.replace(/^#/, '');
  const queryAt = text.indexOf('?');
  const path = queryAt === -1 ? text : text.slice(0, queryAt);
  const params = new URLSearchParams(queryAt === -1 ? '' : text.slice(queryAt + 1));
  for (const [name, pattern] of PATTERNS) {
    const match = pattern.exec(path);
    if (!match) continue;
    if (name === 'repositories') return { name, params };
    try {
      const owner = match[3] === undefined ? undefined : decodeURIComponent(match[3]);
      if (owner !== undefined && !OWNER_LOGIN.test(owner)) return { name: 'not_found', params };
      const scope = owner === undefined ? repositoryScope(match[2]) : ownerScope(owner);
      const deliveryId = match[5] === undefined ? undefined : decodeURIComponent(match[5]);
      if (deliveryId !== undefined && !DELIVERY_ID.test(deliveryId)) return { name: 'not_found', params };
      return { name, scope, hookId: match[4], deliveryId, params };
    } catch {
      // A malformed percent-escape in a hand-typed address.
      return { name: 'not_found', params };
    }
  }
  return { name: 'not_found', params };
}
