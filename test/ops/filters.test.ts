import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleEventFields } from '../../src/events/catalog.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { pushEvent } from '../support/fixtures.js';

type HookName = 'branches' | 'tags' | 'paths';

const FILTERS: Record<HookName, unknown> = {
  branches: { branches: ['main', 'release/*'] },
  tags: { tags: ['v*'] },
  paths: { paths: { include: ['shots/**'], exclude: ['**/*.tmp'] } },
};

let svc: TestService;
let receiver: Receiver;
let repoId: number;
const hooks = {} as Record<HookName, number>;

/** Creates a webhook inactive and then activates it, so that no ping delivery is made. */
async function createFilteredHook(name: string, filters: unknown): Promise<number> {
  const created = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: `${receiver.url}/${name}`, events: ['*'], active: false, filters });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.filters, filters);
  const activated = await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${created.json.id}`, { active: true });
  assert.equal(activated.status, 200, activated.text);
  return created.json.id;
}

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService();
  const repo = await svc.api('POST', '/v1/repos', { owner: 'studio', name: 'filters' });
  repoId = repo.json.id;
  for (const name of Object.keys(FILTERS) as HookName[]) hooks[name] = await createFilteredHook(name, FILTERS[name]);
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

function push(ref: string, files: { added?: string[]; modified?: string[]; removed?: string[] }): Record<string, unknown> {
  const base = pushEvent('Update shots');
  const commit = { ...(base.commits as Record<string, unknown>[])[0], added: files.added ?? [], modified: files.modified ?? [], removed: files.removed ?? [] };
  return { ...base, ref, commits: [commit] };
}

function event(name: 'push.tag' | 'lock.acquired' | 'branch.created', fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { event: name, ...exampleEventFields(name), ...fields };
}

/** Ids of the deliveries that each webhook has for one event. */
async function deliveriesOf(eventId: string): Promise<Record<HookName, string[]>> {
  const result = {} as Record<HookName, string[]>;
  for (const name of Object.keys(hooks) as HookName[]) {
    const list = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hooks[name]}/deliveries?limit=100`);
    assert.equal(list.status, 200, list.text);
    result[name] = list.json.data.filter((d: any) => d.event_id === eventId).map((d: any) => d.id);
  }
  return result;
}

test('invalid filters are rejected with the field', async () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['branch with ref prefix', { branches: ['refs/heads/main'] }, 'filters.branches[0]', /without the refs\/heads\/ prefix/],
    ['unclosed brace in branch', { branches: ['main', 'release/{1,2'] }, 'filters.branches[1]', /is not a valid glob/],
    ['negated tag', { tags: ['!v1'] }, 'filters.tags[0]', /negated globs/],
    ['reversed range in path', { paths: { include: ['shots/[z-a].mov'] } }, 'filters.paths.include[0]', /is not a valid glob/],
    ['empty exclude list', { paths: { exclude: [] } }, 'filters.paths.exclude', /at least one glob/],
    ['unknown filter key', { branch: ['main'] }, 'filters.branch', /not a known filter/],
    ['filters not an object', ['main'], 'filters', /expected an object/],
  ];
  for (const [name, filters, field, message] of cases) {
    const res = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: receiver.url, events: ['push'], filters });
    assert.equal(res.status, 400, `${name}: ${res.text}`);
    assert.equal(res.json.error.code, 'invalid_request', name);
    const detail = res.json.error.details.find((d: any) => d.field === field);
    assert.ok(detail, `${name}: details name ${field}, got ${JSON.stringify(res.json.error.details)}`);
    assert.match(detail.message, message, name);
    assert.ok(res.json.error.message.includes(field), `${name}: the message names ${field}`);
  }

  const patch = await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${hooks.branches}`, { filters: { branches: ['refs/heads/main'] } });
  assert.equal(patch.status, 400);
  assert.equal(patch.json.error.details[0].field, 'filters.branches[0]');
  const unchanged = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hooks.branches}`);
  assert.deepEqual(unchanged.json.filters, FILTERS.branches);
  const listed = await svc.api('GET', `/v1/repos/${repoId}/webhooks`);
  assert.equal(listed.json.data.length, 3, 'no rejected webhook was stored');
});

test('events reach only the webhooks whose filters match', async () => {
  const cases: [string, Record<string, unknown>, HookName[]][] = [
    ['push to feature/x', push('refs/heads/feature/x', { added: ['shots/a.mov'] }), ['tags', 'paths']],
    ['push to release/1.0', push('refs/heads/release/1.0', { modified: ['docs/notes.md'] }), ['branches', 'tags']],
    ['push to main of a .tmp file only', push('refs/heads/main', { added: ['shots/a.tmp'] }), ['branches', 'tags']],
    ['push to main of a .mov file', push('refs/heads/main', { modified: ['shots/a.mov'] }), ['branches', 'tags', 'paths']],
    ['push to main removing a shot', push('refs/heads/main', { removed: ['shots/old/b.mov'], modified: ['cache/x.tmp'] }), ['branches', 'tags', 'paths']],
    ['tag v2 pushed', event('push.tag', { ref: 'refs/tags/v2' }), ['branches', 'tags', 'paths']],
    ['tag nightly pushed', event('push.tag', { ref: 'refs/tags/nightly' }), ['branches', 'paths']],
    ['lock without branch data', event('lock.acquired'), ['branches', 'tags', 'paths']],
    ['branch feature/color created', event('branch.created'), ['tags', 'paths']],
    ['branch release/2 created', event('branch.created', { ref: 'refs/heads/release/2', branch: 'release/2' }), ['branches', 'tags', 'paths']],
  ];

  const expectedRequests: string[] = [];
  for (const [name, body, expected] of cases) {
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, body);
    assert.equal(res.status, 202, `${name}: ${res.text}`);
    assert.equal(res.json.deliveries, expected.length, `${name}: deliveries created`);
    const deliveries = await deliveriesOf(res.json.id);
    for (const hook of Object.keys(hooks) as HookName[]) {
      assert.equal(deliveries[hook].length, expected.includes(hook) ? 1 : 0, `${name}: delivery to the ${hook} webhook`);
      for (const id of deliveries[hook]) expectedRequests.push(`/hook/${hook} ${id}`);
    }
  }

  await receiver.waitFor(expectedRequests.length);
  const received = receiver.requests.map((r) => `${r.path} ${r.headers['x-dits-delivery']}`);
  assert.deepEqual(received.sort(), expectedRequests.sort(), 'the receiver got exactly the planned deliveries');
});

test('PATCH filters null removes them', async () => {
  const cleared = await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${hooks.branches}`, { filters: null });
  assert.equal(cleared.status, 200, cleared.text);
  assert.equal(cleared.json.filters, null);
  const fetched = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hooks.branches}`);
  assert.equal(fetched.json.filters, null);

  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, push('refs/heads/feature/y', { added: ['notes.txt'] }));
  assert.equal(res.status, 202, res.text);
  const deliveries = await deliveriesOf(res.json.id);
  assert.equal(deliveries.branches.length, 1, 'the unfiltered webhook receives the feature branch push');
  assert.equal(deliveries.paths.length, 0, 'the paths filter still holds');
  await waitUntil(() => receiver.requests.some((r) => r.headers['x-dits-delivery'] === deliveries.branches[0]), 10_000, 'the delivery to arrive');
});
