/**
 * Builds what every scenario needs: push event bodies and a repository with
 * webhooks pointing at the receiver, created through the management API.
 */
import { request } from 'undici';

/** Secrets are 16 to 256 characters; this one is fixed so that runs sign alike. */
const SECRET_PREFIX = 'bench-secret-0123456789abcdef-';

const BEFORE = '3f7a1c0e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a';
const AFTER = 'c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8';

/**
 * Builds one `push` ingestion body with one commit touching three files, as a
 * Dits watcher sends it. `sentAt` (shared monotonic clock, ms) rides in an extra
 * top-level field that the service passes through to the delivery body.
 */
export function pushEventBody(index: number, sentAt?: number): string {
  const body: Record<string, unknown> = {
    event: 'push',
    sender: { id: 456, login: 'octocat', type: 'user' },
    ref: 'refs/heads/main',
    before: BEFORE,
    after: AFTER,
    commits: [
      {
        id: AFTER,
        message: `Render pass ${index}: colour grade and new intro footage`,
        timestamp: '2026-01-02T03:04:05.704512Z',
        author: { name: 'Octocat', email: 'octocat@example.com' },
        committer: { name: 'Octocat', email: 'octocat@example.com' },
        added: ['footage/intro.mov'],
        modified: ['edit.prproj', 'grades/main.cube'],
        removed: [],
      },
    ],
  };
  if (sentAt !== undefined) body.bench_sent_at = sentAt;
  return JSON.stringify(body);
}

export interface BenchWebhook {
  id: number;
  url: string;
  secret: string;
}

async function callApi(baseUrl: string, token: string, path: string, body: unknown): Promise<any> {
  const response = await request(baseUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 201) throw new Error(`POST ${path} returned ${response.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Creates a repository and `count` active webhooks for `push` on it; each new webhook queues a ping. */
export async function createRepoWithWebhooks(
  baseUrl: string,
  token: string,
  receiverPort: number,
  count: number,
): Promise<{ repoId: number; repository: Record<string, unknown>; webhooks: BenchWebhook[] }> {
  const repo = await callApi(baseUrl, token, '/v1/repos', { owner: 'bench', name: `project-${Date.now()}` });
  const webhooks: BenchWebhook[] = [];
  for (let i = 0; i < count; i++) {
    const url = `http://127.0.0.1:${receiverPort}/hook/${i}`;
    const secret = SECRET_PREFIX + i;
    const hook = await callApi(baseUrl, token, `/v1/repos/${repo.id}/webhooks`, { url, events: ['push'], secret });
    webhooks.push({ id: hook.id, url, secret });
  }
  return { repoId: repo.id, repository: repo, webhooks };
}
