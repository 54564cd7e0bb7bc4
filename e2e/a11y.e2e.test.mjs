// Accessibility end to end: axe-core (WCAG 2.1 A and AA rules) run inside
// real Chromium on every console page, the privacy page, the demo page and
// each widget screen (consent, camera with guidance, success and error
// outcomes), at 1280 px and 375 px wide, in the light and the dark colour
// scheme. Any violation fails, and so does a page wider than a 375 px
// phone (WCAG 1.4.10 reflow).
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/a11y.e2e.test.mjs
//
// The real `bin/likeness serve --demo` (real models, real SQLite) with a fake
// camera: a recorded face for the enrollment, Chromium's own test pattern
// (no face) for the guidance screen. Skipped like the other e2e tests when
// Chromium or the shared face video is absent. Not covered: the privacy
// page of a verified person (strict liveness cannot be passed by a recorded
// clip; go test ./web -run Privacy renders it).
// LIKENESS_SCREENSHOTS=docs/screenshots also saves the members page and a
// filtered audit trail.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';

import { BASE_ARGS, CHROMIUM, LIVE, RESULT_TIMEOUT, ROOT, cameraArgs, skip, startServer } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const VARIANTS = [
  { name: '1280 light', viewport: { width: 1280, height: 900 }, colorScheme: 'light' },
  { name: '1280 dark', viewport: { width: 1280, height: 900 }, colorScheme: 'dark' },
  { name: '375 light', viewport: { width: 375, height: 812 }, colorScheme: 'light' },
  { name: '375 dark', viewport: { width: 375, height: 812 }, colorScheme: 'dark' },
];
const SHOTS = process.env.LIKENESS_SCREENSHOTS ? resolve(ROOT, process.env.LIKENESS_SCREENSHOTS) : null;
const EMAIL = 'owner@example.com';
const PASSWORD = 'a long enough console password';

/** Runs axe in the page (and its open shadow roots) and returns readable violations. */
async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const found = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${JSON.stringify(n.target)} ${n.failureSummary.split('\n').slice(1, 3).join(' ')}`),
    }));
  }, TAGS);
  return found.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
}

/** Horizontal overflow of the page in CSS pixels (0 when it fits), and the
 * elements that stick out furthest (to find the culprit). */
const overflow = (page) => page.evaluate(() => {
  const w = document.documentElement.clientWidth;
  const px = document.documentElement.scrollWidth - w;
  if (px <= 0) return { px };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? `#${e.id}` : '') + (e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : '');
  const clipped = (e) => { // inside a scroll container: it scrolls, the page does not
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll('*')].filter((e) => e.getBoundingClientRect().right > w + 1 && !clipped(e))
    .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > w + 1 && !clipped(c)))
    .slice(0, 4).map((e) => `${e.parentElement ? name(e.parentElement) + ' > ' : ''}${name(e)} (right ${Math.round(e.getBoundingClientRect().right)})`);
  return { px, wide };
});

describe('accessibility (axe-core, WCAG 2.1 A/AA)', { timeout: 900_000 }, () => {
  let server;
  let browser; // fake camera: a recorded face
  let noFace; // fake camera: Chromium's test pattern
  let session; // the signed-in console's cookies
  const urls = {};

  before(async () => {
    if (skip) return;
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: cameraArgs(LIVE) });
    noFace = await chromium.launch({ executablePath: CHROMIUM, headless: true,
      args: [...BASE_ARGS, '--use-fake-ui-for-media-stream'] });

    // One owner with something on every page: an application made with the
    // form, an enrolled face, an API key, a webhook, a pending invitation.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/console/signup`);
    await page.fill('#email', EMAIL);
    await page.fill('#org', 'Acme Robotics');
    await page.fill('#password', PASSWORD);
    await page.fill('#confirm', PASSWORD);
    await page.getByTestId('signup-submit').click();
    await page.waitForURL(/\/console\/apps$/);
    await page.fill('#name', 'Shop');
    await page.fill('#origins', 'https://shop.example');
    await page.getByTestId('create-app').click();
    await page.getByTestId('new-api-key').waitFor();
    urls.shop = await page.getByTestId('public-id').textContent();
    const app = `${server.url}/console/apps/${server.publicId}`;
    await page.goto(`${app}/keys`);
    await page.getByTestId('create-key').click();
    await page.goto(`${app}/webhooks`);
    await page.fill('#url', 'https://hooks.example.invalid/likeness');
    await page.getByTestId('add-webhook').click();
    await page.getByRole('link', { name: 'https://hooks.example.invalid/likeness' }).click();
    urls.webhook = page.url();
    // The demo application's organization, from the breadcrumb.
    urls.org = /href="\/console\/apps\?org=([^#"&]+)#/.exec(await page.content())?.[1];
    assert.ok(urls.org, 'the organization is linked from the application pages');
    await page.goto(`${server.url}/console/orgs/${urls.org}/members`);
    await page.fill('#member-email', 'vera@example.com');
    await page.getByTestId('invite-submit').click();
    urls.invitation = await page.getByTestId('invite-link').textContent();

    const demo = await ctx.newPage();
    await demo.goto(`${server.url}/demo`);
    await demo.click('#enroll');
    await demo.getByTestId('consent-accept').click({ timeout: 30_000 });
    await demo.waitForFunction(() => document.getElementById('result').textContent.includes('facialId'), null,
      { timeout: RESULT_TIMEOUT });
    urls.face = JSON.parse(await demo.locator('#result').textContent()).facialId;
    session = await ctx.storageState();
    await ctx.close();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await noFace?.close().catch(() => {});
    if (server) await server.stop();
  });

  for (const v of VARIANTS) {
    test(`every page and widget screen at ${v.name}`, { skip, timeout: 300_000 }, async () => {
      const problems = [];
      const audit = async (page, what) => {
        for (const p of await axe(page)) problems.push(`${what}: ${p}`);
        if (v.viewport.width < 400) {
          const { px, wide } = await overflow(page);
          if (px > 0) problems.push(`${what}: ${px} px wider than the ${v.viewport.width} px screen: ${wide.join(', ')}`);
        }
      };
      const options = { viewport: v.viewport, colorScheme: v.colorScheme, bypassCSP: true };

      // Signed out: sign-in, sign-up, an invitation link, an error page, the
      // privacy page.
      const anon = await browser.newContext(options);
      const ap = await anon.newPage();
      for (const [what, path] of [['sign-in', '/console/signin'], ['sign-up', '/console/signup'],
        ['invitation', urls.invitation.replace(server.url, '')], ['not found', '/console/nope'],
        ['privacy page', `/privacy/${server.publicId}`]]) {
        await ap.goto(`${server.url}${path}`);
        await audit(ap, what);
      }
      await anon.close();

      // Signed in: every console page.
      const ctx = await browser.newContext({ ...options, storageState: session });
      const page = await ctx.newPage();
      const app = `/console/apps/${server.publicId}`;
      const org = `/console/orgs/${urls.org}`;
      for (const [what, path] of [
        ['applications', '/console/apps'], ['overview', app], ['other overview', `/console/apps/${urls.shop}`],
        ['faces', `${app}/faces`], ['face', `${app}/faces/${urls.face}`], ['analytics', `${app}/analytics`],
        ['consent', `${app}/consent`], ['security', `${app}/security`], ['keys', `${app}/keys`],
        ['webhooks', `${app}/webhooks`], ['webhook', urls.webhook.replace(server.url, '')],
        ['members', `${org}/members`], ['audit', `${org}/audit`], ['audit filtered', `${org}/audit?actor=widget%3A`],
        ['organization deletion', `${org}/delete`], ['support access', `${org}/support`],
        ['account', '/console/account'], ['account deletion', '/console/account/delete'],
        ['form error', `${org}/audit?from=yesterday`],
      ]) {
        const res = await page.goto(`${server.url}${path}`);
        assert.ok(res.status() < 500, `${what}: ${res.status()}`);
        await page.locator('details').evaluateAll((ds) => ds.forEach((d) => { d.open = true; })); // chart tables too
        await audit(page, what);
        if (what === 'overview') { // the Copy button never covers the snippet
          const [b, p] = [await page.locator('button[data-copy=snippet]').boundingBox(), await page.locator('pre#snippet').boundingBox()];
          const apart = b.y + b.height <= p.y || p.y + p.height <= b.y || b.x + b.width <= p.x || p.x + p.width <= b.x;
          if (!apart) problems.push(`overview: the Copy button covers the snippet (${JSON.stringify({ b, p })})`);
        }
        const shot = { members: 'console-members.png', 'audit filtered': 'console-audit-filtered.png' }[what];
        if (SHOTS && v.name === '1280 light' && shot) {
          mkdirSync(SHOTS, { recursive: true });
          await page.screenshot({ path: join(SHOTS, shot), fullPage: true });
        }
      }

      // The demo page and the widget: consent, then the success outcome
      // (the recorded face enrolls again).
      await page.goto(`${server.url}/demo`);
      await audit(page, 'demo page');
      await page.evaluate(() => {
        window.done = new window.faceIO(document.querySelector('meta[name=likeness-public-id]').content)
          .enroll({ outcomeTimeout: 120 }).then(() => 'ok', (c) => `error ${c}`);
      });
      await page.getByTestId('consent-accept').waitFor({ timeout: 30_000 });
      await audit(page, 'widget consent');
      await page.getByTestId('consent-accept').click();
      await page.getByTestId('outcome').filter({ hasText: /\S/ }).waitFor({ timeout: RESULT_TIMEOUT });
      await audit(page, 'widget success outcome');

      // An error outcome: a site that is not allowed (17), at once.
      await page.goto(`${server.url}/demo`);
      await page.evaluate((pid) => {
        window.done = new window.faceIO(pid).authenticate({ outcomeTimeout: 120 }).then(() => 'ok', (c) => `error ${c}`);
      }, urls.shop);
      await page.getByTestId('outcome-retry').or(page.getByTestId('outcome-close')).first().waitFor({ timeout: 30_000 });
      await audit(page, 'widget error outcome');
      await ctx.close();

      // The camera screen with its guidance: a camera that shows no face.
      const cam = await noFace.newContext(options);
      const cp = await cam.newPage();
      await cp.goto(`${server.url}/demo`);
      await cp.evaluate(() => {
        window.done = new window.faceIO(document.querySelector('meta[name=likeness-public-id]').content)
          .authenticate({}).then(() => 'ok', (c) => `error ${c}`);
      });
      await cp.locator('video').waitFor({ state: 'visible', timeout: 30_000 });
      await cp.locator('#lk-status').filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 }); // the guidance
      await audit(cp, 'widget camera and guidance');
      await cp.getByTestId('abort').click();
      await cam.close();

      assert.deepEqual(problems, [], `${problems.length} accessibility problems at ${v.name}:\n${problems.join('\n')}`);
    });
  }
});
