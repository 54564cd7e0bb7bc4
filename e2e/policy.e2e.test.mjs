// End-to-end test of application security settings through the widget in
// Chromium against the real server: a forbidden origin, and PIN codes
// (enroll with a PIN, wrong PINs, the right PIN). No mocks.
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';

import {
  CHROMIUM, LIVE, RESULT_TIMEOUT, UUID, cameraArgs, faceCount, freePort, likeness, skip, startServer,
} from './harness.mjs';

describe('application policy in Chromium', { timeout: 600_000 }, () => {
  const e2eTest = (name, fn) => test(name, { skip, timeout: 180_000 }, fn);
  let server;
  let browser;
  let shop; // an application allowed on the server's own origin
  let elsewhere; // an application allowed only on another site

  before(async () => {
    if (skip) return;
    // Applications are made before the server starts, for its origin.
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'likeness-e2e-policy-'));
    shop = JSON.parse(likeness('app', 'create', '--data', dataDir, '--name', 'Shop', '--origin', origin, '--json'));
    elsewhere = JSON.parse(likeness('app', 'create', '--data', dataDir, '--name', 'Elsewhere',
      '--origin', 'https://elsewhere.example', '--json'));
    server = await startServer({ addr: `127.0.0.1:${port}`, dataDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: cameraArgs(LIVE) });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    if (server) await server.stop();
  });

  /** Opens the demo page for an application, counting the server's PIN requests. */
  async function demo(publicId) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.pinRequests = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => {
      if (typeof f.payload !== 'string') return;
      const m = JSON.parse(f.payload);
      if (m.type === 'pin') page.pinRequests.push(m.reason);
    }));
    await page.goto(`${server.url}/demo?publicId=${publicId}`);
    return page;
  }

  /** Waits for #result to hold JSON and returns it. */
  async function result(page) {
    await page.waitForFunction(() => document.querySelector('#result')?.textContent?.trim().startsWith('{'),
      null, { timeout: RESULT_TIMEOUT });
    return JSON.parse(await page.locator('#result').textContent());
  }

  /**
   * Waits for the server's n-th PIN request of the page (and its screen),
   * then types the PIN and submits it. Returns the request's reason.
   */
  async function typePIN(page, n, pin) {
    const deadline = Date.now() + RESULT_TIMEOUT;
    while (page.pinRequests.length < n) {
      assert.ok(Date.now() < deadline, `PIN request ${n} never came (got ${page.pinRequests})`);
      await page.waitForTimeout(50);
    }
    const input = page.getByTestId('pin-input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(pin);
    await page.getByTestId('pin-submit').click();
    return page.pinRequests[n - 1];
  }

  async function clearResult(page) {
    await page.evaluate(() => { document.querySelector('#result').textContent = ''; });
  }

  async function settings(patch) {
    const res = await fetch(`${server.url}/v1/settings`, {
      method: 'PATCH', headers: { authorization: `Bearer ${shop.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(patch),
    });
    assert.equal(res.status, 200, await res.text());
  }

  e2eTest('a site that is not allowed gets FORBIDDDEN_ORIGIN (17)', async () => {
    const page = await demo(elsewhere.publicId);
    await page.click('#enroll');
    const r = await result(page);
    assert.equal(r.error, 17, JSON.stringify(r));
    assert.equal(faceCount(server.dataDir), 0);
    await page.context().close();
  });

  e2eTest('PIN required: enroll sets it, three wrong PINs give WRONG_PIN_CODE (8), the right one logs in', async () => {
    await settings({ pin: 'required', maxFailedAuth: 10 });
    const page = await demo(shop.publicId);

    await page.click('#enroll');
    await page.getByTestId('consent-accept').click({ timeout: RESULT_TIMEOUT });
    assert.equal(await typePIN(page, 1, '4829'), 'enroll');
    assert.equal(await typePIN(page, 2, '4829'), 'confirm');
    const enrolled = await result(page);
    assert.match(enrolled.facialId ?? '', UUID, JSON.stringify(enrolled));
    assert.equal(faceCount(server.dataDir), 1);

    await clearResult(page);
    await page.click('#authenticate');
    assert.equal(await typePIN(page, 3, '1357'), 'authenticate');
    assert.equal(await typePIN(page, 4, '2468'), 'retry');
    assert.equal(await typePIN(page, 5, '9753'), 'retry');
    const refused = await result(page);
    assert.equal(refused.error, 8, JSON.stringify(refused));

    await clearResult(page);
    await page.click('#authenticate');
    assert.equal(await typePIN(page, 6, '4829'), 'authenticate');
    const ok = await result(page);
    assert.equal(ok.facialId, enrolled.facialId, JSON.stringify(ok));
    await page.context().close();
  });
});
