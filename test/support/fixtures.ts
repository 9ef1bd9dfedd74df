import type { TestService } from './service.js';

export const ZERO_ID = '0'.repeat(64);

/** Builds a push event body as a client would send it to POST /v1/repos/{id}/events. */
export function pushEvent(message = 'Add new footage', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: 'push',
    sender: { id: 456, login: 'octocat', type: 'user' },
    ref: 'refs/heads/main',
    before: 'a'.repeat(64),
    after: 'b'.repeat(64),
    commits: [
      {
        id: 'b'.repeat(64),
        message,
        timestamp: '2026-01-02T03:04:05Z',
        author: { name: 'Octocat', email: 'octocat@example.com' },
        committer: { name: 'Octocat', email: 'octocat@example.com' },
        added: ['shots/001.mov'],
        modified: ['edit.prproj'],
        removed: [],
      },
    ],
    ...extra,
  };
}

/**
 * Creates a repository and a webhook to `url`. The webhook is created
 * inactive and then activated, so that no ping delivery is made.
 */
export async function createHook(
  svc: TestService,
  url: string,
  options: { events?: string[]; secret?: string; owner?: string; name?: string; filters?: unknown } = {},
): Promise<{ repoId: number; hookId: number; base: string }> {
  const repo = await svc.api('POST', '/v1/repos', { owner: options.owner ?? 'user', name: options.name ?? `project-${Math.random().toString(36).slice(2, 8)}` });
  if (repo.status !== 201) throw new Error(`creating the repository failed: ${repo.text}`);
  const body: Record<string, unknown> = { url, events: options.events ?? ['*'], secret: options.secret ?? 'your_webhook_secret', active: false };
  if (options.filters !== undefined) body.filters = options.filters;
  const hook = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, body);
  if (hook.status !== 201) throw new Error(`creating the webhook failed: ${hook.text}`);
  const activated = await svc.api('PATCH', `/v1/repos/${repo.json.id}/webhooks/${hook.json.id}`, { active: true });
  if (activated.status !== 200) throw new Error(`activating the webhook failed: ${activated.text}`);
  return { repoId: repo.json.id, hookId: hook.json.id, base: `/v1/repos/${repo.json.id}/webhooks/${hook.json.id}` };
}
