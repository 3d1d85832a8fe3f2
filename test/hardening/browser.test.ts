// The operator page in a real Chromium, on every framework: markup and script
// in the issue, reason and context render as text (no dialog, no script runs,
// and the CSP blocks a script even when one is injected into the live page);
// a person approves or denies by clicking; at 375 px the whole request and both
// buttons fit without horizontal scrolling. Screenshots go to
// test-artifacts/hardening/.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FRAMEWORKS,
  eventually,
  expectCleanLogs,
  expectSuccess,
  openStore,
  requestApproval,
  startHarness,
  startReceiver,
  type Harness,
  type Receiver,
  type StoreHandle,
} from './harness.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/hardening/', import.meta.url));
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const ISSUE = `<script>alert('issue')</script><img src=x onerror="alert('img')"> Bulk send to 500 recipients`;
const REASON = `"><svg onload="alert('reason')"></svg><a href="javascript:alert('link')">click</a>`;
const CONTEXT = {
  '<b onmouseover="alert(\'key\')">subject</b>': '<iframe src="javascript:alert(`ctx`)"></iframe>',
  preview: '</pre><script>alert("pre")</script><style>body{display:none}</style>',
  recipients: ['<img src=x onerror=alert(1)>', "'; alert(2); //"],
};

/** Whether Chromium is installed; without it these tests skip with a message, or fail with TIERGATE_REQUIRE_SERVICES=1. */
const hasChromium = (() => {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();
if (!hasChromium) {
  if (process.env['TIERGATE_REQUIRE_SERVICES'] === '1') {
    describe('browser.test.ts', () => {
      it(`needs Chromium at ${CHROMIUM} (TIERGATE_REQUIRE_SERVICES=1)`, () => {
        expect(hasChromium, `install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`).toBe(true);
      });
    });
  } else {
    console.warn(`[browser.test.ts] no Chromium at ${CHROMIUM}: skipping the browser tests (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
}

let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
});

/** A page that records dialogs, console messages and page errors. */
async function watchedPage(options: { width?: number; height?: number } = {}) {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1024, height: options.height ?? 900 } });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const consoleMessages: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('console', (message) => consoleMessages.push(`${message.type()}: ${message.text()} ${message.location().url}`));
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, dialogs, consoleMessages, errors, close: () => context.close() };
}

/** Elements and attributes that would run code or load something; none may exist on a tiergate page. */
function activeContent(page: Page): Promise<number> {
  return page.evaluate(() => document.querySelectorAll('script, iframe, img, svg, object, embed, base, [onerror], [onload], [onmouseover], [onclick], a[href^="javascript:"]').length);
}

describe.skipIf(!hasChromium).each(FRAMEWORKS.map((framework) => ({ framework })))('operator page in Chromium on $framework', ({ framework }) => {
  let stores: StoreHandle;
  let h: Harness;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    stores = await openStore('memory');
    h = await startHarness(framework, stores);
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
    await receiver?.close();
  });

  it('markup in the issue, reason and context renders as text: no dialog, no script, and the CSP blocks an injected one', async () => {
    const account = h.addAccount();
    const approval = await requestApproval(h, account.key, { issue: ISSUE, reason: REASON, context: CONTEXT });
    const watched = await watchedPage();
    try {
      const { page } = watched;
      const response = await page.goto(approval.url);
      expect(response?.status()).toBe(200);
      expect(await page.locator('p.issue').textContent()).toBe(ISSUE);
      expect(await page.locator('dd', { hasText: 'javascript:alert' }).first().textContent()).toBe(REASON);
      const pre = (await page.locator('pre').textContent()) ?? '';
      expect(JSON.parse(pre)).toEqual(CONTEXT);
      expect(await activeContent(page)).toBe(0);
      await page.locator('p.issue').hover();
      await page.locator('pre').click();
      await page.screenshot({ path: `${ARTIFACTS}${framework}-xss.png`, fullPage: true });

      // Were escaping ever to fail, the CSP would still stop the script: inject some into the live page and watch it refused.
      await page.evaluate(() => {
        document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="window.__injected = 1"><div onclick="window.__injected = 2" id="x">x</div>');
        const script = document.createElement('script');
        script.textContent = 'window.__injected = 3';
        document.body.appendChild(script);
        (document.getElementById('x') as HTMLElement).click();
      });
      await eventually(() => watched.consoleMessages.some((m) => /Content Security Policy/.test(m)), 'a CSP violation report');
      expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined();
      expect(watched.dialogs).toEqual([]);
      expect(watched.errors).toEqual([]);
      // The page itself caused no CSP report and no error (its only style is allowed by hash); the test server has no favicon.
      expect(watched.consoleMessages.filter((m) => !/Content Security Policy|\/favicon\.ico$/.test(m))).toEqual([]);
    } finally {
      await watched.close();
    }
    expect((await h.tiergate.approvals.get(approval.id))?.status).toBe('pending');
  });

  it('a person approves by clicking: one POST without a Referer, one decision, one callback', async () => {
    const account = h.addAccount();
    const path = receiver.path('clicked');
    const approval = await requestApproval(h, account.key, { callback_url: `${receiver.origin}${path}` });
    const watched = await watchedPage();
    try {
      const { page } = watched;
      const posts: Promise<Record<string, string>>[] = [];
      page.on('request', (request) => {
        // allHeaders(): what went on the wire, Sec-Fetch-* included.
        if (request.method() === 'POST') posts.push(request.allHeaders());
      });
      await page.goto(approval.url);
      // Opening the page (and a reload) decides nothing.
      await page.reload();
      expect((await h.tiergate.approvals.get(approval.id))?.status).toBe('pending');
      await page.fill('#name-approve', 'Grace Hopper');
      const [response] = await Promise.all([page.waitForNavigation(), page.click('button.approve')]);
      expect(response?.status()).toBe(200);
      expect(await page.locator('h1').textContent()).toBe(h.tiergate.messages.page.approvedTitle);
      await page.screenshot({ path: `${ARTIFACTS}${framework}-approved.png`, fullPage: true });
      expect(posts).toHaveLength(1);
      const sent = await posts[0];
      // Under the page's Referrer-Policy: no-referrer the browser sends no Referer (the token stays out of it) and Origin: null.
      expect(sent?.['referer']).toBeUndefined();
      expect(sent?.['origin']).toBe('null');
      expect(sent?.['sec-fetch-site']).toBe('same-origin');
      expect(watched.dialogs).toEqual([]);
      expect(watched.errors).toEqual([]);
    } finally {
      await watched.close();
    }
    const status = expectSuccess(await h.api('GET', `/v1/approvals/${approval.id}`, { key: account.key }), 200);
    expect(status).toMatchObject({ status: 'approved', decided_by: 'Grace Hopper' });
    await h.tiergate.deliver();
    expect(receiver.callsTo(path).map((c) => JSON.parse(c.body).type)).toEqual(['approval.granted']);
  });

  it('at 375 px the whole request and both buttons fit without horizontal scrolling; denying with a reason works there', async () => {
    const account = h.addAccount();
    const longWord = `https://example.com/${'very-long-path-segment-without-spaces-'.repeat(12)}`;
    const approval = await requestApproval(h, account.key, {
      issue: `Send the quarterly update to every subscriber ${longWord} ${'W'.repeat(400)}`.slice(0, 1000),
      reason: `Recipients exceed the threshold: ${'R'.repeat(300)}`,
      urgency: 'high',
      context: {
        [`a_very_long_key_${'k'.repeat(120)}`]: 'v'.repeat(500),
        nested: { deeper: { list: Array.from({ length: 5 }, (_, i) => `${longWord}-${i}`) } },
        subject: 'Product update',
      },
    });
    const watched = await watchedPage({ width: 375, height: 812 });
    try {
      const { page } = watched;
      await page.goto(approval.url);
      const layout = await page.evaluate(() => {
        const box = (selector: string) => {
          const element = document.querySelector(selector);
          if (element === null) return null;
          const r = element.getBoundingClientRect();
          return { left: r.left, right: r.right, width: r.width, height: r.height };
        };
        return {
          // tiergate's stylesheet file loaded under the CSP and applies (main is capped at 640 px by it).
          stylesheets: document.styleSheets.length,
          mainMaxWidth: getComputedStyle(document.querySelector('main') as Element).maxWidth,
          viewport: window.innerWidth,
          scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
          approve: box('button.approve'),
          deny: box('button.deny'),
          issue: box('h1'),
          context: box('pre'),
          reason: box('textarea'),
        };
      });
      expect(layout.stylesheets).toBe(1);
      expect(layout.mainMaxWidth).toBe('640px');
      expect(watched.consoleMessages.filter((m) => /Content Security Policy|Refused/i.test(m))).toEqual([]);
      expect(layout.viewport).toBe(375);
      expect(layout.scrollWidth).toBeLessThanOrEqual(375);
      for (const name of ['approve', 'deny', 'issue', 'context', 'reason'] as const) {
        const box = layout[name];
        expect(box, name).not.toBeNull();
        expect(box?.left, name).toBeGreaterThanOrEqual(0);
        expect(box?.right, name).toBeLessThanOrEqual(375);
        expect(box?.height, name).toBeGreaterThan(0);
      }
      await expect(page.locator('button.approve').isVisible()).resolves.toBe(true);
      await expect(page.locator('button.deny').isVisible()).resolves.toBe(true);
      await page.screenshot({ path: `${ARTIFACTS}${framework}-375px.png`, fullPage: true });
      await page.fill('#denial_reason', 'Not before the legal review');
      await page.fill('#name-deny', 'Ada');
      const [response] = await Promise.all([page.waitForNavigation(), page.click('button.deny')]);
      expect(response?.status()).toBe(200);
      expect(await page.locator('h1').textContent()).toBe(h.tiergate.messages.page.deniedTitle);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await page.screenshot({ path: `${ARTIFACTS}${framework}-375px-denied.png`, fullPage: true });
    } finally {
      await watched.close();
    }
    expect(await h.tiergate.approvals.get(approval.id)).toMatchObject({ status: 'denied', denialReason: 'Not before the legal review', decidedBy: 'Ada' });
    expectCleanLogs(h);
  });
});
