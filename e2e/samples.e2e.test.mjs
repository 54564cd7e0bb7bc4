// End-to-end test of FACEIO-style pages (e2e/samples/*.html) against the
// real `bin/likeness serve --demo`: FACEIO's HTML integration boilerplate
// shape (enroll, authenticate, handleError + restartSession() in every
// catch) with only the script address and public ID changed, and a page
// that imports the ES module build. Headless Chromium, fake camera, the
// visitor's language from the browser (German, French). Outcome screens are
// checked in those languages.
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/samples.e2e.test.mjs
//
// LIKENESS_SCREENSHOTS=docs/screenshots also saves the outcome screens.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';

import {
  CHROMIUM, DENIED_ARGS, LIVE, RESULT_TIMEOUT, ROOT, SERVER_STOP_TIMEOUT, UUID, cameraArgs, freePort, likeness, skip,
  startServer,
} from './harness.mjs';

const SAMPLES = join(ROOT, 'e2e', 'samples');
const SHOTS = process.env.LIKENESS_SCREENSHOTS;

describe('FACEIO sample pages against the real server', { timeout: 600_000 }, () => {
  const sampleTest = (name, fn) => test(name, { skip, timeout: 180_000 }, fn);
  let server;
  let site; // the sample site: another origin, as a customer's site is
  let app; // the application made for the site's origin
  const browsers = [];

  before(async () => {
    if (skip) return;
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'likeness-e2e-samples-'));
    app = JSON.parse(likeness('app', 'create', '--data', dataDir, '--name', 'FACEIO samples', '--origin', origin, '--json'));
    server = await startServer({ dataDir });
    // The site serves the sample pages with only the script address and
    // the public ID filled in.
    site = createServer((req, res) => {
      const file = /^\/(boilerplate|module)\.html$/.exec(req.url)?.[0].slice(1);
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      const html = readFileSync(join(SAMPLES, file), 'utf8')
        .replaceAll('__LIKENESS__', server.url).replaceAll('__PUBLIC_ID__', app.publicId);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
    });
    await new Promise((res) => site.listen(port, '127.0.0.1', res));
    site.origin = origin;
  });

  after(async () => {
    site?.close();
    for (const b of browsers) await b.close().catch(() => {});
    if (server) {
      const { code, timedOut } = await server.stop();
      assert.ok(!timedOut, `the server did not stop within ${SERVER_STOP_TIMEOUT} ms`);
      assert.equal(code, 0, `graceful shutdown exits 0:\n${server.tail()}`);
    }
  });

  /**
   * Opens a sample page on the sample site (an origin of its own, allowed by
   * its application), with the browser's language set to locale.
   */
  async function openSample(args, file, locale) {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
    browsers.push(browser);
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    page.logs = [];
    page.alerts = [];
    page.errors = [];
    page.on('console', (m) => page.logs.push(m.text()));
    page.on('pageerror', (e) => page.errors.push(e.message));
    page.on('dialog', (d) => { page.alerts.push(d.message()); d.accept(); });
    await page.goto(`${site.origin}/${file}`);
    return page;
  }

  /** The widget's outcome message, once its screen shows (saved as shot when asked). */
  async function outcome(page, what, timeout = RESULT_TIMEOUT, shot = '') {
    try {
      const h = await page.waitForFunction(() => {
        const el = document.querySelector('[data-likeness-widget]')?.shadowRoot?.querySelector('[data-testid="outcome"]');
        return el && !el.closest('[hidden]') && el.checkVisibility() && el.textContent ? el.textContent : false;
      }, null, { timeout, polling: 50 });
      if (SHOTS && shot) await page.screenshot({ path: join(SHOTS, shot) });
      return await h.jsonValue();
    } catch (e) {
      throw new Error(`${what}: no outcome screen (${e.message.split('\n')[0]})\nconsole: ${page.logs.join('\n')}\n${server.tail()}`);
    }
  }

  /** Waits until the page logged a line matching re; returns it. */
  async function logged(page, re, what, timeout = RESULT_TIMEOUT) {
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      const line = page.logs.find((l) => re.test(l));
      if (line) return line;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: the page never logged ${re}\nconsole: ${page.logs.join('\n')}`);
  }

  /** Waits for the widget dialog to be gone (the promise settled). */
  const closed = (page) => page.waitForFunction(() => !document.querySelector('[data-likeness-widget]'), null, { timeout: 20_000 });

  /** Clicks the consent button once it shows. */
  async function accept(page) {
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-likeness-widget]')?.shadowRoot?.querySelector('[data-testid="consent-accept"]');
      return b && !b.closest('[hidden]') && b.checkVisibility();
    }, null, { timeout: 30_000, polling: 50 });
    await page.getByTestId('consent-accept').click();
  }

  let facialId;

  sampleTest('boilerplate, German visitor: unknown face, enroll (a second click does not kill it), authenticate', async () => {
    const page = await openSample(cameraArgs(LIVE), 'boilerplate.html', 'de-DE');

    await page.click('#authenticate');
    assert.match(await outcome(page, 'unknown face'), /^Wir haben Sie nicht erkannt\./);
    await logged(page, /^Unrecognized face/, 'unknown face');
    await closed(page);

    await page.click('#enroll');
    // The boilerplate's catch calls restartSession() after SESSION_IN_PROGRESS:
    // the visitor's running enrollment must go on.
    await page.evaluate(() => window.enrollNewUser());
    await logged(page, /^Another authentication or enrollment session is in progress/, 'second enroll');
    await accept(page);
    assert.match(await outcome(page, 'enroll', RESULT_TIMEOUT, 'widget-outcome-enrolled-de.png'), /^Sie sind registriert\./);
    await closed(page);
    const alert = page.alerts.find((a) => a.startsWith('User Successfully Enrolled!'));
    assert.ok(alert, `the boilerplate's success alert: ${page.alerts} / ${page.logs}`);
    facialId = /Unique Facial ID: (\S+)/.exec(alert)?.[1];
    assert.match(facialId, UUID);
    assert.match(alert, /Gender: undefined/, 'Likeness never infers gender');
    assert.match(alert, /Age Approximation: \d+-\d+/);

    await page.click('#authenticate');
    assert.equal(await outcome(page, 'authenticate'), 'Willkommen zurück!');
    assert.equal(await logged(page, /^Linked facial Id: /, 'authenticate'), `Linked facial Id: ${facialId}`);
    assert.equal(await logged(page, /^Payload: /, 'authenticate'), 'Payload: {"whoami":123456,"email":"john.doe@example.com"}');
    await closed(page);
    assert.deepEqual(page.errors, [], 'no uncaught page error');
  });

  sampleTest('boilerplate, French visitor, camera refused: the screen says how to allow it', async () => {
    const page = await openSample(DENIED_ARGS, 'boilerplate.html', 'fr-FR');
    await page.click('#enroll');
    assert.match(await outcome(page, 'refused camera', 30_000, 'widget-outcome-camera-fr.png'), /^La caméra est bloquée\. Autorisez-la pour ce site/);
    await logged(page, /^Access to the Camera stream was denied/, 'refused camera', 30_000);
    await closed(page);
    assert.deepEqual(page.errors, []);
  });

  sampleTest('boilerplate, Arabic visitor, camera refused: a right-to-left dialog in Arabic', async () => {
    const page = await openSample(DENIED_ARGS, 'boilerplate.html', 'ar-EG');
    await page.click('#enroll');
    assert.match(await outcome(page, 'refused camera', 30_000, 'widget-outcome-camera-ar.png'), /^الكاميرا محظورة/);
    const dir = await page.evaluate(() => document.querySelector('[data-likeness-widget]')?.shadowRoot?.querySelector('[role="dialog"]')?.getAttribute('dir'));
    assert.equal(dir, 'rtl');
    await closed(page);
  });

  sampleTest('ES module page (import faceIO from …/fio.mjs): authenticate finds the same Facial ID', async () => {
    assert.ok(facialId, 'needs the enrollment of the boilerplate test (it failed)');
    const page = await openSample(cameraArgs(LIVE), 'module.html', 'en-US');
    await page.waitForFunction(() => window.sampleReady === true, null, { timeout: 10_000 });
    await page.click('#authenticate');
    assert.equal(await outcome(page, 'module authenticate'), 'Welcome back!');
    await page.waitForFunction(() => document.getElementById('result').textContent !== '—', null, { timeout: RESULT_TIMEOUT });
    const value = JSON.parse(await page.locator('#result').textContent());
    assert.equal(value.facialId, facialId, `the ES module build authenticates: ${JSON.stringify(value)}`);
    assert.deepEqual(page.errors, []);
  });
});
