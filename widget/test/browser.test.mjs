// Component test of static/fio.js and the demo page in headless Chromium with
// a fake camera, against a protocol test double (widget/testkit/double.mjs).
// Skipped, with a message, when Chromium or the fake camera video is missing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDouble } from '../testkit/double.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const VIDEO = join(ROOT, '..', 'shared', 'faces', 'video', 'live_lmm_hamilton_640x480.mjpeg');
const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${VIDEO}`];

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install -y chromium)`
  : !existsSync(VIDEO) ? `the fake camera video ${VIDEO} is absent` : false;
if (skip) console.log(`browser tests skipped: ${skip}`);

const CONSENT = {
  type: 'consent', version: 1, sha256: 'c0ffee'.repeat(10) + 'c0ff', locale: 'en',
  title: 'How we use your face', text: 'We keep a face template.\nYou can delete it at any time.',
  privacyUrl: 'https://example.com/privacy',
};
const CAPTURE = { type: 'capture', maxFps: 5, maxBytes: 512 * 1024, width: 640, height: 480 };

/** A page that only loads fio.js under a CSP without 'unsafe-inline' styles. */
const STRICT_PAGE = {
  body: '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>strict</title></head>'
    + '<body><button id="go">go</button><script src="/fio.js"></script></body></html>',
  csp: "default-src 'self'; script-src 'self'; style-src 'self'",
};

/** Width and height from a JPEG's SOF marker. */
function jpegSize(buf) {
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    const length = buf.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    i += 2 + length;
  }
  return null;
}

describe('widget in Chromium', { skip, timeout: 180_000 }, () => {
  let double;
  let browser;

  before(async () => {
    double = await startDouble({ staticDir: join(ROOT, 'static'), extraPages: { '/strict.html': STRICT_PAGE } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--use-fake-ui-for-media-stream'] });
  });

  after(async () => {
    await browser?.close();
    await double?.close();
  });

  /**
   * Opens the demo page in a fresh context, recording problems: page errors,
   * CSP violations and requests that leave the double.
   */
  async function openDemo(t, { publicId = 'pub_demo', b = browser, viewport } = {}) {
    const context = await b.newContext(viewport ? { viewport } : {});
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(double.url) && !url.startsWith('blob:') && !url.startsWith('data:')) problems.push(`third-party request: ${url}`);
    });
    page.on('websocket', (ws) => {
      if (!ws.url().startsWith(double.url.replace('http:', 'ws:'))) problems.push(`third-party socket: ${ws.url()}`);
    });
    await page.addInitScript(() => {
      const md = navigator.mediaDevices;
      const original = md.getUserMedia.bind(md);
      window.__streams = [];
      md.getUserMedia = async (constraints) => {
        window.__constraints = constraints;
        const stream = await original(constraints);
        window.__streams.push(stream);
        return stream;
      };
    });
    await page.goto(`${double.url}/demo.html?publicId=${encodeURIComponent(publicId)}`);
    t.after(async () => {
      await context.close();
      assert.deepEqual(problems, []);
    });
    return page;
  }

  /** Waits for #result to change and returns its parsed JSON, checking the widget is gone. */
  async function result(page) {
    await page.waitForFunction(() => document.getElementById('result').textContent !== '—', null, { timeout: 15_000 });
    assert.equal(await page.locator('[data-likeness-widget]').count(), 0, 'the dialog is removed');
    const live = await page.evaluate(() => window.__streams.flatMap((s) => s.getTracks()).filter((tr) => tr.readyState !== 'ended').length);
    assert.equal(live, 0, 'every camera track is stopped');
    return JSON.parse(await page.locator('#result').textContent());
  }

  /** The data-testid (or tag) of the element focused inside the widget. */
  const focused = (page) => page.evaluate(() => {
    const host = document.querySelector('[data-likeness-widget]');
    if (document.activeElement !== host) return `outside:${document.activeElement?.tagName}`;
    const el = host.shadowRoot.activeElement;
    return el ? el.getAttribute('data-testid') || el.tagName.toLowerCase() : 'none';
  });

  /** Accepts the protocol opening of an operation: start, then camera ok. */
  async function opening(op) {
    const conn = await double.nextConnection();
    assert.equal(conn.url.searchParams.get('op'), op);
    assert.equal(conn.url.searchParams.get('publicId'), 'pub_demo');
    assert.equal(conn.origin, double.url);
    const start = await conn.next();
    assert.equal(start.type, 'start');
    assert.deepEqual(await conn.next(), { type: 'camera', ok: true });
    return { conn, start };
  }

  test('enroll: consent screen, Decline → 11', async (t) => {
    const page = await openDemo(t);
    await page.click('#enroll');
    const { conn, start } = await opening('enroll');
    assert.equal(start.locale, 'en');
    assert.equal(start.userConsent, false);
    assert.equal(start.payload.demo, true);
    assert.ok(!Number.isNaN(Date.parse(start.payload.at)));
    assert.equal(start.replyTimeout, 40);

    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    await page.getByText('Face registration').waitFor();
    conn.send(CONSENT);
    await page.getByTestId('consent-accept').waitFor();
    assert.equal(await page.getByRole('heading', { name: CONSENT.title }).count(), 1);
    assert.match(await page.locator('.notice').textContent(), /delete it at any time/);
    assert.equal(await page.getByRole('link', { name: 'Privacy policy' }).getAttribute('href'), CONSENT.privacyUrl);
    await page.getByTestId('consent-decline').click();
    assert.deepEqual(await conn.next(), { type: 'consent', accept: false, version: 1, sha256: CONSENT.sha256 });
    assert.deepEqual(await result(page), { error: 11, name: 'TERMS_NOT_ACCEPTED' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'enroll', 'focus returns to the button');
  });

  test('enroll by keyboard: Tab reaches Accept, Enter accepts; JPEG frames, flow control, result', async (t) => {
    const page = await openDemo(t);
    await page.focus('#enroll');
    await page.keyboard.press('Enter');
    const { conn } = await opening('enroll');
    conn.send(CONSENT);
    await page.getByTestId('consent-accept').waitFor();
    const seen = [];
    for (let i = 0; i < 8 && seen.at(-1) !== 'consent-accept'; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focused(page));
    }
    assert.equal(seen.at(-1), 'consent-accept', `Tab order: ${seen.join(', ')}`);
    const cycle = [];
    for (let i = 0; i < seen.length + 1; i++) {
      await page.keyboard.press('Tab');
      cycle.push(await focused(page));
    }
    assert.deepEqual(cycle, ['abort', ...seen], 'Tab wraps around inside the dialog');
    const back = [];
    for (let i = 0; i < seen.length + 1; i++) {
      await page.keyboard.press('Shift+Tab');
      back.push(await focused(page));
    }
    assert.deepEqual(back, [...seen.slice(0, -1).reverse(), 'abort', 'consent-accept'], 'Shift+Tab wraps around too');
    await page.keyboard.press('Enter');
    assert.deepEqual(await conn.next(), { type: 'consent', accept: true, version: 1, sha256: CONSENT.sha256 });

    conn.send(CAPTURE);
    const frames = await conn.waitFrames(2);
    for (const f of frames) {
      assert.deepEqual([...f.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
      assert.ok(f.length <= CAPTURE.maxBytes);
    }
    assert.deepEqual(jpegSize(frames[0]), { width: 640, height: 480 });
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(conn.frames.length, 2, 'no third frame before an answer');
    conn.send({ type: 'guide', hint: 'move_closer', progress: 0.4 });
    await conn.waitFrames(3);
    await page.getByText('Move closer to the camera.').waitFor();
    assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '40');
    assert.equal(await page.locator('#lk-status').getAttribute('aria-live'), 'polite');
    assert.equal(await page.locator('#lk-status').textContent(), 'Move closer to the camera.');
    const constraints = await page.evaluate(() => window.__constraints);
    assert.deepEqual(constraints, { video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' }, audio: false });

    const done = { type: 'result', facialId: 'fid_123', timestamp: '2025-06-01T10:00:00Z', details: { gender: 'n/a', age: 30 }, token: 'eyJ.test.sig' };
    conn.send(done);
    const { type, ...expected } = done;
    assert.deepEqual(await result(page), expected);
    assert.equal(await page.locator('#result').textContent(), JSON.stringify(expected));
    await conn.closed;
  });

  test('authenticate: the abort button sends abort and rejects 13', async (t) => {
    const page = await openDemo(t);
    await page.click('#authenticate');
    const { conn, start } = await opening('authenticate');
    assert.equal(start.payload, undefined);
    conn.send(CAPTURE);
    await conn.waitFrames(1);
    await page.getByTestId('abort').click();
    assert.deepEqual(await conn.next(), { type: 'abort' });
    assert.deepEqual(await result(page), { error: 13, name: 'SESSION_EXPIRED' });
  });

  test('authenticate: Escape closes the widget', async (t) => {
    const page = await openDemo(t);
    await page.click('#authenticate');
    const { conn } = await opening('authenticate');
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    assert.deepEqual(await conn.next(), { type: 'abort' });
    assert.deepEqual(await result(page), { error: 13, name: 'SESSION_EXPIRED' });
  });

  test('authenticate with a PIN', async (t) => {
    const page = await openDemo(t);
    await page.click('#authenticate');
    const { conn } = await opening('authenticate');
    conn.send(CAPTURE);
    await conn.waitFrames(1);
    conn.send({ type: 'pin', reason: 'authenticate', minLength: 4 });
    const input = page.getByTestId('pin-input');
    await input.waitFor();
    assert.equal(await focused(page), 'pin-input');
    assert.equal(await input.getAttribute('type'), 'password');
    assert.equal(await input.getAttribute('inputmode'), 'numeric');
    await input.fill('12');
    await page.getByTestId('pin-submit').click();
    await page.getByText('Use digits only, at least 4 of them.').waitFor();
    await input.fill('2468');
    await page.getByTestId('pin-submit').click();
    assert.deepEqual(await conn.next(), { type: 'pin', pin: '2468' });
    const done = { type: 'result', facialId: 'fid_9', payload: { demo: true }, token: 'tok' };
    conn.send(done);
    assert.deepEqual(await result(page), { facialId: 'fid_9', payload: { demo: true }, token: 'tok' });
  });

  test('server error and dropped connection', async (t) => {
    const page = await openDemo(t);
    await page.click('#authenticate');
    let { conn } = await opening('authenticate');
    conn.send({ type: 'error', code: 5, name: 'PAD_ATTACK', message: 'Presentation attack.' });
    assert.deepEqual(await result(page), { error: 5, name: 'PAD_ATTACK' });

    await page.evaluate(() => { document.getElementById('result').textContent = '—'; });
    await page.click('#authenticate');
    ({ conn } = await opening('authenticate'));
    conn.close();
    assert.deepEqual(await result(page), { error: 7, name: 'NETWORK_IO' });
  });

  test('a refused check rejects with its fioCode and opens no socket', async (t) => {
    double.refusals.set('pub_forbidden', { status: 403, body: { error: { code: 'forbidden', message: 'Origin not allowed.' }, fioCode: 17 } });
    const before = double.connectionCount;
    const page = await openDemo(t, { publicId: 'pub_forbidden' });
    await page.click('#enroll');
    assert.deepEqual(await result(page), { error: 17, name: 'FORBIDDDEN_ORIGIN' });
    assert.equal(double.connectionCount, before);
    assert.ok(double.requests.includes('/widget/check?publicId=pub_forbidden&op=enroll'));
  });

  test('on a 360 px phone the dialog fits and its buttons are reachable', async (t) => {
    const page = await openDemo(t, { viewport: { width: 360, height: 640 } });
    await page.click('#enroll');
    const { conn } = await opening('enroll');
    conn.send(CONSENT);
    await page.getByTestId('consent-accept').waitFor();
    const box = await page.getByRole('dialog').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, `dialog within 360 px: ${JSON.stringify(box)}`);
    for (const id of ['consent-accept', 'consent-decline']) {
      const b = await page.getByTestId(id).boundingBox();
      assert.ok(b.x >= 0 && b.x + b.width <= 360 && b.height >= 40, `${id}: ${JSON.stringify(b)}`);
    }
    if (process.env.LIKENESS_SCREENSHOTS) await page.screenshot({ path: join(process.env.LIKENESS_SCREENSHOTS, 'consent-360.png') });
    await page.getByTestId('consent-accept').click();
    await conn.next();
    conn.send(CAPTURE);
    conn.send({ type: 'guide', hint: 'center_face', progress: 0.2 });
    await page.getByText('Center your face in the oval.').waitFor();
    await conn.waitFrames(2);
    if (process.env.LIKENESS_SCREENSHOTS) await page.screenshot({ path: join(process.env.LIKENESS_SCREENSHOTS, 'camera-360.png') });
    await page.getByTestId('abort').click();
    assert.deepEqual(await result(page), { error: 13, name: 'SESSION_EXPIRED' });
  });

  test('works under a strict CSP: default-src, script-src and style-src \'self\' only', async (t) => {
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const violations = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${double.url}/strict.html`);
    await page.evaluate(() => { window.__op = new window.faceIO('pub_demo').authenticate().catch((c) => c); });
    const { conn } = await opening('authenticate');
    const position = await page.getByRole('dialog').evaluate((el) => getComputedStyle(el.parentElement).position);
    assert.equal(position, 'fixed', 'the shadow stylesheet applies');
    conn.send(CAPTURE);
    await conn.waitFrames(1);
    await page.keyboard.press('Escape');
    assert.deepEqual(await conn.next(), { type: 'abort' });
    assert.equal(await page.evaluate(() => window.__op), 13);
    assert.deepEqual(violations, []);
  });

  test('camera denied → camera ok:false and 1', async (t) => {
    const denying = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--deny-permission-prompts'] });
    t.after(() => denying.close());
    const page = await openDemo(t, { b: denying });
    const before = double.connectionCount;
    await page.click('#authenticate');
    assert.deepEqual(await result(page), { error: 1, name: 'PERMISSION_REFUSED' });
    if (double.connectionCount > before) {
      // The socket opened before the refusal: the double may have been told.
      const conn = await double.nextConnection();
      await conn.closed;
      const cameras = conn.messages.items.filter((m) => m.type === 'camera');
      assert.deepEqual(cameras, cameras.length ? [{ type: 'camera', ok: false, error: 'denied' }] : []);
      assert.equal(conn.frames.length, 0);
    }
  });
});
