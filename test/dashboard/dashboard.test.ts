import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { launchBrowser, waitForCount, waitForText, type TestBrowser } from './browser.js';

const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const XSS_MESSAGE = '<img src=x onerror=alert(1)>';
const FAILING_MESSAGE = 'Break the build';
const FAILURE_BODY = '<h1>render farm down</h1><img src=x onerror=alert(2)>';

let svc: TestService;
let receiver: Receiver;
let browser: TestBrowser;
let page: Page;
let hook: { repoId: number; hookId: number; base: string };
/** A webhook in another repository whose endpoint responds with 410, so the service disables it. */
let goneHook: { repoId: number; hookId: number; base: string };
/** When true, the receiver responds with 500 to pushes whose commit message is FAILING_MESSAGE. */
let failBuilds = true;

const hookRoute = () => `${svc.url}/dashboard/#/repos/${hook.repoId}/hooks/${hook.hookId}`;
const deliveryRows = () => page.locator('table.deliveries tbody tr');
const notice = () => page.locator('.notice');

async function deliveryIdWithMessage(message: string): Promise<string> {
  const list = await svc.api('GET', `${hook.base}/deliveries?limit=100`);
  for (const summary of list.json.data) {
    const detail = await svc.api('GET', `${hook.base}/deliveries/${summary.id}`);
    if (detail.json.request.body.includes(JSON.stringify(message))) return summary.id;
  }
  throw new Error(`no delivery carries the commit message ${message}`);
}

async function selectFilter(label: 'Status' | 'Event', value: string, expectedRows: number): Promise<void> {
  await page.getByLabel(label, { exact: true }).selectOption(value);
  await waitUntil(async () => (await page.getByLabel(label, { exact: true }).inputValue()) === value, 10_000, `${label} filter shows ${value}`);
  await waitForCount(deliveryRows(), expectedRows, `deliveries with ${label} ${value || 'any'}`);
}

before(async () => {
  receiver = await Receiver.start();
  receiver.respondWith((request, res) => {
    if (request.path.includes('gone=1')) {
      res.writeHead(410);
      res.end();
      return;
    }
    if (failBuilds && request.body.toString().includes(FAILING_MESSAGE)) {
      res.writeHead(500, { 'content-type': 'text/html', 'x-farm': 'down' });
      res.end(FAILURE_BODY);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"received":true}');
  });
  svc = await startTestService();
  hook = await createHook(svc, receiver.url, { name: 'my-project', events: ['*'] });
  for (const message of ['Add new footage', FAILING_MESSAGE, XSS_MESSAGE]) {
    const sent = await svc.api('POST', `/v1/repos/${hook.repoId}/events`, pushEvent(message));
    assert.equal(sent.status, 202, sent.text);
  }
  goneHook = await createHook(svc, `${receiver.url}?gone=1`, { name: 'retired-project', events: ['push'] });
  await svc.api('POST', `/v1/repos/${goneHook.repoId}/events`, pushEvent('Last words'));
  await receiver.waitFor(4);
  await waitUntil(async () => {
    const list = await svc.api('GET', `${hook.base}/deliveries`);
    return list.json.data.length === 3 && list.json.data.every((d: { status: string }) => d.status !== 'pending');
  }, 10_000, 'three attempted deliveries');
  await waitUntil(async () => (await svc.api('GET', goneHook.base)).json.status === 'disabled', 10_000, 'webhook disabled after 410');
  browser = await launchBrowser();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await svc?.stop();
  await receiver?.close();
});

test('dashboard in Chromium', async (t) => {
  await t.test('redirects root and sends CSP', async () => {
    const response = await page.goto(`${svc.url}/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/');
    const policy = response?.headers()['content-security-policy'] ?? '';
    assert.match(policy, /default-src 'self'/);
    assert.doesNotMatch(policy, /unsafe-inline/);
    await page.getByLabel('API token').waitFor();
  });

  await t.test('unknown token shows 401', async () => {
    await page.getByLabel('API token').fill('dwt_unknown_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const message = await waitForText(page.getByRole('alert'), '401');
    assert.match(message, /rejected the token/);
    assert.match(message, /Check the token/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a rejected token is not stored');
  });

  await t.test('sign in lists repositories', async () => {
    const authorizations: (string | undefined)[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/v1/')) authorizations.push(request.headers().authorization);
    });
    await page.getByLabel('API token').fill(svc.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'user/my-project' }).waitFor();
    assert.ok(authorizations.length >= 2, 'the sign-in check and the list each call the API');
    for (const header of authorizations) assert.equal(header, `Bearer ${svc.adminToken}`);
    const stored = await page.evaluate(() => Object.values({ ...sessionStorage }));
    assert.deepEqual(stored, [svc.adminToken]);
    assert.equal(await waitForText(page.locator('.signed-in'), 'admin'), 'admin (admin)');
  });

  await t.test('stored bidi controls are shown inert', async () => {
    const created = await svc.api('POST', '/v1/repos', { owner: 'mallory', name: 'bidi', description: 'invoice\u202efdp.exe' });
    assert.equal(created.status, 201, created.text);
    await page.reload();
    const row = page.locator('tr', { hasText: 'mallory/bidi' });
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    assert.ok(text.includes('invoice\\u202efdp.exe'), `the control shows as its escape: ${text}`);
    assert.ok(!text.includes('\u202e'), 'the control itself is not in the page');
    // Marks, common in right-to-left text, act as one strong letter and stay as they are.
    assert.equal((await svc.api('POST', '/v1/repos', { owner: 'mallory', name: 'hebrew', description: 'פרויקט \u200fv2\u200f (חדש)' })).status, 201);
    await page.reload();
    const hebrew = (await page.locator('tr', { hasText: 'mallory/hebrew' }).textContent()) ?? '';
    assert.ok(hebrew.includes('פרויקט \u200fv2\u200f (חדש)'), hebrew);
  });

  await t.test('owners listed once whatever the case', async () => {
    assert.equal((await svc.api('POST', '/v1/repos', { owner: 'Mallory', name: 'second' })).status, 201);
    await page.reload();
    await page.locator('tr', { hasText: 'Mallory/second' }).waitFor();
    const owners = await page.locator('p.owner-links a').allTextContents();
    assert.deepEqual(owners.filter((owner) => owner.toLowerCase() === 'mallory').length, 1, owners.join(', '));
  });

  await t.test('load more adds owner links', async () => {
    // A page lists 50 repositories, so the last one created lands on the second page.
    for (let i = 0; i < 50; i++) assert.equal((await svc.api('POST', '/v1/repos', { owner: 'bulk', name: `r${i}` })).status, 201);
    assert.equal((await svc.api('POST', '/v1/repos', { owner: 'latecomer', name: 'last' })).status, 201);
    await page.reload();
    await page.locator('tr', { hasText: 'bulk/r0' }).waitFor();
    assert.equal((await page.locator('p.owner-links a').allTextContents()).includes('latecomer'), false);
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.locator('tr', { hasText: 'latecomer/last' }).waitFor();
    await page.locator('p.owner-links a', { hasText: 'latecomer' }).waitFor();
    assert.equal((await page.locator('p.owner-links a').allTextContents()).filter((owner) => owner === 'bulk').length, 1);
  });

  await t.test('dot owners call no API route', async () => {
    const paths: string[] = [];
    const record = (request: { url(): string }) => paths.push(new URL(request.url()).pathname);
    page.on('request', record);
    try {
      await page.goto(`${svc.url}/dashboard/#/owners/..`);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      // A delivery id of ".." would resolve to the webhook's own API path.
      await page.goto(`${hookRoute()}/deliveries/..`);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      await page.goto(`${svc.url}/dashboard/#/`);
      await page.getByLabel('Owner login').fill('..');
      await page.getByRole('button', { name: 'Show owner webhooks' }).click();
      assert.equal(await page.getByLabel('Owner login').evaluate((input) => (input as HTMLInputElement).validity.patternMismatch), true);
      assert.ok(!page.url().includes('/owners/'), `the form did not navigate: ${page.url()}`);
    } finally {
      page.off('request', record);
    }
    assert.deepEqual(paths.filter((path) => path === '/v1/webhooks' || path === '/v1/owners/webhooks' || path.endsWith(`/webhooks/${hook.hookId}/`)), []);
  });

  await t.test('disabled webhook shows reason', async () => {
    await page.getByRole('link', { name: 'user/retired-project' }).click();
    const row = page.locator('table.webhooks tbody tr');
    await waitForCount(row, 1, 'webhooks');
    const text = (await row.textContent()) ?? '';
    assert.match(text, /disabled \(gone: the endpoint answered 410 Gone\)/);
    await page.getByRole('link', { name: 'Repositories' }).click();
  });

  await t.test('repository shows its webhook', async () => {
    await page.getByRole('link', { name: 'user/my-project' }).click();
    const row = page.locator('table.webhooks tbody tr');
    await waitForCount(row, 1, 'webhooks');
    const text = await row.textContent();
    assert.ok(text?.includes(receiver.url), `row shows the URL: ${text}`);
    assert.ok(text?.includes('active'));
    assert.ok(text?.includes('*'));
    assert.ok(text?.includes('push'), 'last delivery event');
  });

  await t.test('webhook lists its deliveries', async () => {
    await page.getByRole('link', { name: `#${hook.hookId}` }).click();
    await waitForCount(deliveryRows(), 3, 'deliveries');
    const failing = deliveryRows().filter({ hasText: 'retrying' });
    await waitForCount(failing, 1, 'retrying deliveries');
    assert.match((await failing.textContent()) ?? '', /500/);
    const delivered = deliveryRows().filter({ hasText: 'delivered' });
    await waitForCount(delivered, 2, 'delivered deliveries');
    assert.match((await delivered.first().textContent()) ?? '', /200/);
    mkdirSync(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  await t.test('short delivery ids differ', async () => {
    const links = await deliveryRows().getByRole('link').allTextContents();
    const list = await svc.api('GET', `${hook.base}/deliveries`);
    assert.deepEqual(links, list.json.data.map((delivery: { id: string }) => `…${delivery.id.slice(-8)}`));
    assert.equal(new Set(links).size, 3);
  });

  await t.test('filter keeps keyboard focus', async () => {
    await page.locator('#status-filter').focus();
    await page.keyboard.press('ArrowDown');
    await waitUntil(() => page.url().includes('status=pending'), 10_000, 'the arrow key to pick the pending status');
    await page.getByText('No deliveries match these filters.').waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.id);
    await waitUntil(async () => (await focused()) === 'status-filter', 10_000, 'the focus back on the status filter');
    await page.keyboard.press('ArrowDown');
    await waitUntil(() => page.url().includes('status=delivered'), 10_000, 'a second arrow key to pick delivered');
    await waitForCount(deliveryRows(), 2, 'delivered deliveries');
    assert.equal(await focused(), 'status-filter');
    await selectFilter('Status', '', 3);
    // A move to another page puts the focus on its heading, even where that page has a control of the same id.
    await page.locator('.breadcrumbs a', { hasText: 'user/my-project' }).click();
    await page.getByRole('heading', { name: 'user/my-project' }).waitFor();
    await waitUntil(async () => (await page.evaluate(() => document.activeElement?.tagName)) === 'H1', 10_000, 'the focus on the new heading');
    await page.goBack();
    await waitForCount(deliveryRows(), 3, 'deliveries after going back');
    await waitUntil(async () => (await page.evaluate(() => document.activeElement?.tagName)) === 'H1', 10_000, 'the focus on the webhook heading');
  });

  await t.test('status filter narrows deliveries', async () => {
    await selectFilter('Status', 'retrying', 1);
    assert.match(page.url(), /status=retrying/);
    await selectFilter('Status', 'delivered', 2);
    await selectFilter('Status', 'failed', 0);
    await page.getByText('No deliveries match these filters.').waitFor();
    await selectFilter('Status', '', 3);
  });

  await t.test('load more follows next_cursor', async () => {
    await page.goto(`${hookRoute()}?limit=2`);
    await waitForCount(deliveryRows(), 2, 'first page');
    await page.getByRole('button', { name: 'Load more' }).click();
    await waitForCount(deliveryRows(), 3, 'both pages');
    await waitForCount(page.getByRole('button', { name: 'Load more' }), 0, 'load more buttons after the last page');
  });

  await t.test('delivery shows attempts and bodies', async () => {
    await page.goto(hookRoute());
    const failing = deliveryRows().filter({ hasText: 'retrying' });
    await waitForCount(failing, 1, 'retrying deliveries');
    await failing.getByRole('link').click();
    const attempt = page.getByRole('region', { name: 'Attempt 1' });
    await attempt.waitFor();
    const text = (await attempt.textContent()) ?? '';
    assert.match(text, /500/);
    assert.match(text, /scheduled/);
    assert.match(text, /x-farm/);
    const responseBody = await page.getByLabel('Response body of attempt 1').textContent();
    assert.equal(responseBody, FAILURE_BODY, 'response markup shows as text');
    const requestBody = (await page.getByLabel('Request body', { exact: true }).textContent()) ?? '';
    assert.ok(requestBody.includes(`"message": "${FAILING_MESSAGE}"`), 'request body is pretty-printed');
    assert.match((await page.getByLabel('Request headers', { exact: true }).textContent()) ?? '', /x-dits-event/i);
    // Times carry their offset from UTC, so they read the same in every time zone.
    assert.match((await attempt.locator('time').first().textContent()) ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d$/);
    assert.equal(await page.locator('main img, main h1:has-text("render farm")').count(), 0, 'no markup from the response body was parsed');
  });

  await t.test('redeliver adds an attempt', async () => {
    failBuilds = false;
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Redeliver' }).click();
    const attempt = page.getByRole('region', { name: 'Attempt 2' });
    await attempt.waitFor();
    const text = (await attempt.textContent()) ?? '';
    assert.match(text, /manual/);
    assert.match(text, /200/);
    await waitForText(notice(), 'Attempt 2 (manual): delivered with status code 200.');
    assert.equal(receiver.requests.length, before + 1);
    const first = receiver.requests.find((request) => request.body.toString().includes(FAILING_MESSAGE));
    assert.equal(receiver.requests.at(-1)?.headers['x-dits-delivery'], first?.headers['x-dits-delivery'], 'same delivery id');
  });

  await t.test('payload markup stays text', async () => {
    const id = await deliveryIdWithMessage(XSS_MESSAGE);
    await page.goto(`${hookRoute()}/deliveries/${id}`);
    const requestBody = await waitForText(page.getByLabel('Request body', { exact: true }), XSS_MESSAGE);
    assert.ok(requestBody.includes(JSON.stringify(XSS_MESSAGE).slice(1, -1)));
    assert.equal(await page.locator('img').count(), 0, 'the commit message created no element');
    assert.deepEqual(browser.dialogs, []);
  });

  await t.test('ping creates a ping delivery', async () => {
    await page.goto(hookRoute());
    await waitForCount(deliveryRows(), 3, 'deliveries before the ping');
    await page.getByRole('button', { name: 'Ping' }).click();
    await waitForText(notice(), 'delivered with status code 200');
    await waitForCount(deliveryRows(), 4, 'deliveries after the ping');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'ping-button', 'the focus stays on Ping');
    await selectFilter('Event', 'ping', 1);
    assert.match((await deliveryRows().textContent()) ?? '', /delivered/);
    assert.equal(receiver.requests.filter((request) => request.headers['x-dits-event'] === 'ping').length, 1);
  });

  const deactivateQuestion = `Deactivate webhook #${hook.hookId}? Deliveries waiting for a retry are cancelled, and it gets no new events until you activate it again.`;
  await t.test('deactivate asks first', async () => {
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await waitUntil(async () => browser.dialogs.length === 1, 10_000, 'the question before deactivating');
    assert.equal(browser.dialogs[0], deactivateQuestion);
    assert.equal((await svc.api('GET', hook.base)).json.active, true, 'declining the question changes nothing');
  });

  await t.test('deactivate and activate', async () => {
    const title = page.locator('.title-row .badge');
    browser.dialogAnswers.push(true);
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await waitForText(title, 'inactive');
    await waitForText(notice(), `Webhook #${hook.hookId} is now inactive.`);
    assert.equal(await page.getByRole('button', { name: 'Ping' }).isDisabled(), true);
    assert.equal(await waitForText(page.locator('#webhook-actions-reasons'), 'Activate'), 'Activate the webhook to ping it.');
    assert.equal((await svc.api('GET', hook.base)).json.active, false);
    await deliveryRows().first().getByRole('link').click();
    const redeliver = page.getByRole('button', { name: 'Redeliver' });
    await redeliver.waitFor();
    assert.equal(await redeliver.isDisabled(), true);
    assert.equal(await page.locator('#delivery-actions-reasons').textContent(), 'Activate the webhook to redeliver.');
    await page.goBack();
    await page.getByRole('button', { name: 'Activate' }).click();
    await waitForText(notice(), `Webhook #${hook.hookId} is now active.`);
    // "inactive" contains "active", so wait for the exact badge text.
    await waitUntil(async () => (await title.textContent())?.trim() === 'active', 10_000, 'badge text "active"');
    assert.equal((await svc.api('GET', hook.base)).json.active, true);
  });

  await t.test('error page drops the old breadcrumbs', async () => {
    await page.goto(hookRoute());
    const breadcrumbs = page.locator('.breadcrumbs');
    await waitForText(breadcrumbs, `Webhook #${hook.hookId}`);
    await page.goto(hookRoute().replace(/hooks\/\d+$/, 'hooks/999999'));
    await waitForText(page.getByRole('alert'), 'Could not load this page');
    assert.equal((await breadcrumbs.textContent())?.trim(), 'Repositories');
  });

  await t.test('owner webhooks by typed owner', async () => {
    const created = await svc.api('POST', '/v1/owners/user/webhooks', { url: `${receiver.url}?scope=owner`, events: ['repo.*'], active: false });
    assert.equal(created.status, 201, created.text);
    await page.goto(`${svc.url}/dashboard/#/`);
    await page.getByLabel('Owner login').fill('user');
    await page.getByRole('button', { name: 'Show owner webhooks' }).click();
    const row = page.locator('table.webhooks tbody tr');
    await waitForCount(row, 1, 'owner webhooks');
    const text = (await row.textContent()) ?? '';
    assert.ok(text.includes(`${receiver.url}?scope=owner`), text);
    assert.ok(text.includes('inactive'), text);
  });

  await t.test('sign out and 403 message', async () => {
    const ingestOnly = await svc.api('POST', '/v1/tokens', { name: 'watcher', scopes: ['events:write'] });
    assert.equal(ingestOnly.status, 201, ingestOnly.text);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign out clears the token');
    await waitForText(notice(), 'Signed out');
    await page.getByLabel('API token').fill(ingestOnly.json.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const message = await waitForText(page.getByRole('alert'), '403');
    assert.match(message, /lacks the scope/);
  });

  await t.test('read token disables write buttons', async () => {
    const reader = await svc.api('POST', '/v1/tokens', { name: 'auditor', scopes: ['read'] });
    assert.equal(reader.status, 201, reader.text);
    await page.getByLabel('API token').fill(reader.json.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(await waitForText(page.locator('.signed-in'), 'auditor'), 'auditor (read)');
    const reason = 'Needs a token with the write scope; this token (auditor) has read.';
    await page.goto(hookRoute());
    await waitForCount(deliveryRows(), 4, 'deliveries');
    for (const name of ['Ping', 'Deactivate']) {
      const button = page.getByRole('button', { name });
      assert.equal(await button.isDisabled(), true, `${name} is off`);
      assert.equal(await button.getAttribute('title'), reason);
      assert.equal(await button.getAttribute('aria-describedby'), 'webhook-actions-reasons');
    }
    // The reason is on the page too, not only in a tooltip.
    assert.equal(await page.locator('#webhook-actions-reasons').textContent(), reason);
    await deliveryRows().first().getByRole('link').click();
    const redeliver = page.getByRole('button', { name: 'Redeliver' });
    await redeliver.waitFor();
    assert.equal(await redeliver.isDisabled(), true);
    assert.equal(await redeliver.getAttribute('title'), reason);
    // Signing in again with an admin token turns them back on, without a page load in between.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill(svc.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.goto(hookRoute());
    await waitForCount(deliveryRows(), 4, 'deliveries');
    assert.equal(await page.getByRole('button', { name: 'Ping' }).isDisabled(), false);
    assert.equal(await page.getByRole('button', { name: 'Ping' }).getAttribute('title'), null);
  });

  await t.test('narrow window scrolls only tables', async () => {
    const long = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'n'.repeat(100), description: 'd'.repeat(300) });
    assert.equal(long.status, 201, long.text);
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth);
      await page.goto(hookRoute());
      await waitForCount(deliveryRows(), 4, 'deliveries');
      assert.ok((await pageWidth()) <= 375, `webhook page is ${await pageWidth()} px wide`);
      await page.goto(`${svc.url}/dashboard/#/repos/${long.json.id}`);
      await page.getByRole('heading', { name: `user/${'n'.repeat(100)}` }).waitFor();
      assert.ok((await pageWidth()) <= 375, `repository page is ${await pageWidth()} px wide`);
      await page.goto(`${svc.url}/dashboard/#/`);
      await page.locator('tr', { hasText: 'user/my-project' }).waitFor();
      assert.ok((await pageWidth()) <= 375, `repositories page is ${await pageWidth()} px wide`);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  await t.test('revoked token leaves the top bar', async () => {
    const temporary = await svc.api('POST', '/v1/tokens', { name: 'temporary', scopes: ['read'] });
    assert.equal(temporary.status, 201, temporary.text);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill(temporary.json.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(await waitForText(page.locator('.signed-in'), 'temporary'), 'temporary (read)');
    const focusedTag = () => page.evaluate(() => document.activeElement?.tagName);
    await waitUntil(async () => (await focusedTag()) === 'H1', 10_000, 'the focus on the heading after sign-in');
    assert.equal((await svc.api('DELETE', `/v1/tokens/${temporary.json.id}`)).status, 204);
    await page.evaluate(() => {
      location.hash = '#/repos/1';
    });
    await waitForText(page.getByRole('alert'), '401');
    assert.equal(await page.locator('.signed-in').isHidden(), true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill(svc.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(await waitForText(page.locator('.signed-in'), 'admin'), 'admin (admin)');
  });

  await t.test('page stayed clean', () => {
    assert.deepEqual(browser.dialogs, [deactivateQuestion, deactivateQuestion], 'no dialog opened but the two questions before deactivating');
    assert.deepEqual(browser.pageErrors, [], 'no uncaught exception');
    assert.deepEqual(
      browser.consoleErrors.filter((message) => /Content.Security.Policy/i.test(message)),
      [],
      'no Content-Security-Policy violation',
    );
    assert.deepEqual(browser.blockedRequests, [], 'no request left 127.0.0.1');
  });
});
