import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { waitUntil } from '../support/service.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Every host name fails to resolve, so the browser cannot reach beyond the loopback IP literals the test uses.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

/** A headless Chromium with a fresh profile and one page, plus what the page did that a test must check. */
export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Messages of every alert, confirm or prompt dialog. */
  dialogs: string[];
  /** Responses to the next dialogs, in order: true accepts, false dismisses. A dialog without a queued response is dismissed. */
  dialogAnswers: boolean[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Console errors, which include Content-Security-Policy violations. */
  consoleErrors: string[];
  /** URLs the page tried to load from anywhere but 127.0.0.1; each was aborted. */
  blockedRequests: string[];
  close(): Promise<void>;
}

/** Launches Debian's Chromium; fails with the install command when it is missing. */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is missing at ${CHROMIUM_PATH}; install it with: apt-get update && apt-get install -y chromium`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'dits-dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
  const browser: TestBrowser = {
    context,
    page: context.pages()[0] ?? (await context.newPage()),
    dialogs: [],
    dialogAnswers: [],
    pageErrors: [],
    consoleErrors: [],
    blockedRequests: [],
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    browser.blockedRequests.push(url.href);
    return route.abort('blockedbyclient');
  });
  browser.page.on('dialog', (dialog) => {
    browser.dialogs.push(dialog.message());
    void (browser.dialogAnswers.shift() === true ? dialog.accept() : dialog.dismiss());
  });
  browser.page.on('pageerror', (error) => browser.pageErrors.push(error.message));
  browser.page.on('console', (message) => {
    if (message.type() === 'error') browser.consoleErrors.push(message.text());
  });
  browser.page.setDefaultTimeout(10_000);
  return browser;
}

/** Waits until `locator` matches exactly `count` elements. */
export async function waitForCount(locator: Locator, count: number, description: string): Promise<void> {
  let seen = -1;
  await waitUntil(
    async () => {
      seen = await locator.count();
      return seen === count;
    },
    10_000,
    `${description}: ${count} elements`,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (last count ${seen})`);
  });
}

/** Waits until the text of `locator` contains `text`, and returns the whole text. */
export async function waitForText(locator: Locator, text: string): Promise<string> {
  let seen = '';
  await waitUntil(
    async () => {
      seen = (await locator.first().textContent()) ?? '';
      return seen.includes(text);
    },
    10_000,
    `text ${JSON.stringify(text)}`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last text ${JSON.stringify(seen.slice(0, 500))}`);
  });
  return seen;
}
