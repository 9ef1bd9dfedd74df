import type { RepositoryRecord } from '../store/types.js';

/** Builds the `repository` object of every payload, keys in a fixed order. */
export function repositoryPayload(repo: RepositoryRecord): Record<string, unknown> {
  return {
    id: repo.id,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    private: repo.private,
    owner: { login: repo.owner },
    description: repo.description,
    default_branch: repo.defaultBranch,
    archived: repo.archived,
    created_at: new Date(repo.createdAt).toISOString(),
    updated_at: new Date(repo.updatedAt).toISOString(),
  };
}

/** True when a key is an array index, which JSON.parse moves ahead of all other keys of its object. */
function isIndexKey(key: string): boolean {
  return /^(0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}

/**
 * The parts of a delivery body that do not change between the deliveries of
 * one event, serialised once.
 */
export interface BodyTemplate {
  event: string;
  timestamp: string;
  repositoryJson: string;
  senderJson: string;
  /** Serialised event fields without the braces, or '' when there are none. */
  fieldsInner: string;
  /** The fields as an object, for the rare slow path. */
  fields: Record<string, unknown>;
  sender: unknown;
  repository: Record<string, unknown>;
  slowPath: boolean;
}

export function prepareBodyTemplate(
  event: string,
  createdAt: number,
  repository: Record<string, unknown>,
  sender: unknown,
  fields: Record<string, unknown>,
): BodyTemplate {
  const fieldsJson = JSON.stringify(fields);
  return {
    event,
    timestamp: new Date(createdAt).toISOString(),
    repositoryJson: JSON.stringify(repository),
    senderJson: JSON.stringify(sender),
    fieldsInner: fieldsJson.length > 2 ? fieldsJson.slice(1, -1) : '',
    fields,
    sender,
    repository,
    slowPath: Object.keys(fields).some(isIndexKey),
  };
}

/**
 * Serialises one delivery body: `event`, `delivery_id`, `timestamp`,
 * `repository`, `sender`, then the event fields. The result equals
 * `JSON.stringify` of that object, so a receiver that re-serialises the
 * parsed body gets the signed bytes back. Index-like field names are the one
 * case where string concatenation would differ, and they take the slow path.
 */
export function buildDeliveryBody(template: BodyTemplate, deliveryId: string): Buffer {
  if (template.slowPath) {
    const body: Record<string, unknown> = {
      event: template.event,
      delivery_id: deliveryId,
      timestamp: template.timestamp,
      repository: template.repository,
      sender: template.sender,
    };
    for (const [key, value] of Object.entries(template.fields)) body[key] = value;
    return Buffer.from(JSON.stringify(body), 'utf8');
  }
  const head =
    '{"event":' + JSON.stringify(template.event) +
    ',"delivery_id":' + JSON.stringify(deliveryId) +
    ',"timestamp":"' + template.timestamp +
    '","repository":' + template.repositoryJson +
    ',"sender":' + template.senderJson;
  return Buffer.from(template.fieldsInner ? head + ',' + template.fieldsInner + '}' : head + '}', 'utf8');
}
