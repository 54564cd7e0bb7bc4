// End-to-end test: the real `bin/likeness serve --demo` (real models, real
// SQLite store) driven through its /demo page by headless Chromium with a
// fake camera fed from a video file. No mocks.
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/
//
// It does not build: bin/likeness must exist (`make build` makes it).
// Skipped, with a printed reason, when /usr/bin/chromium or the shared face
// videos (../shared/faces/video, relative to the repo root) are missing.
// LIKENESS_E2E_VERBOSE=1 also prints every URL the pages requested.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';

import {
  BIN, CHROMIUM, DENIED_ARGS, LIVE, REPLAY, RESULT_TIMEOUT, SERVER_STOP_TIMEOUT, UUID, cameraArgs, skip, startServer,
} from './harness.mjs';

const b64 = (s) => Buffer.from(s, 'base64url');
const b64json = (s) => JSON.parse(b64(s).toString('utf8'));

/**
 * Verifies an ES256 JWT with Node's crypto against the JWKS and returns its
 * claims, checking the header and every claim.
 */
function verifyToken(token, jwks, { iss, aud, sub, op, now = Date.now() / 1000 }) {
  assert.equal(typeof token, 'string', 'the token is a string');
  const parts = token.split('.');
  assert.equal(parts.length, 3, `a compact JWS has 3 parts: ${token}`);
  const [h, p, s] = parts;
  const header = b64json(h);
  assert.equal(header.alg, 'ES256', `header alg: ${JSON.stringify(header)}`);
  if (header.typ !== undefined) assert.equal(header.typ, 'JWT');
  assert.equal(typeof header.kid, 'string');
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is in the JWKS ${JSON.stringify(jwks)}`);
  assert.equal(jwk.kty, 'EC');
  assert.equal(jwk.crv, 'P-256');
  assert.equal(jwk.alg, 'ES256');
  assert.equal(jwk.use, 'sig');
  assert.equal(jwk.d, undefined, 'the JWKS holds no private key');
  const key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  const sig = b64(s);
  assert.equal(sig.length, 64, 'an ES256 signature is r||s, 64 bytes');
  const data = Buffer.from(`${h}.${p}`);
  assert.ok(crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig), 'the signature verifies');
  // A tampered token must not verify (guards against a verify that always passes).
  const flipped = Buffer.from(sig);
  flipped[10] ^= 1;
  assert.ok(!crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, flipped), 'a tampered signature fails');

  const claims = b64json(p);
  assert.equal(claims.iss, iss, 'iss');
  assert.equal(claims.aud, aud, `aud is the public ID as a string: ${JSON.stringify(claims.aud)}`);
  assert.equal(claims.sub, sub, 'sub is the Facial ID');
  assert.equal(claims.op, op, 'op');
  assert.ok(Number.isInteger(claims.iat), `iat is a NumericDate: ${claims.iat}`);
  assert.ok(Number.isInteger(claims.exp), `exp is a NumericDate: ${claims.exp}`);
  assert.ok(Math.abs(claims.iat - now) <= 120, `iat ${claims.iat} is close to now ${now}`);
  assert.ok(claims.exp > claims.iat, 'exp is after iat');
  assert.ok(claims.exp - claims.iat <= 300, `exp is at most 5 min after iat (${claims.exp - claims.iat} s)`);
  assert.ok(claims.exp > now, 'the token has not expired');
  if (claims.nbf !== undefined) assert.ok(claims.nbf <= now + 5, 'nbf is not in the future');
  assert.equal(typeof claims.jti, 'string');
  assert.ok(claims.jti.length >= 8, `jti: ${claims.jti}`);
  return claims;
}

describe('Likeness end to end: server + widget in Chromium', { timeout: 600_000 }, () => {
  // Each test is skipped with the reason (so the summary counts them as
  // skipped); the hooks then do nothing.
  const e2eTest = (name, fn) => test(name, { skip, timeout: 180_000 }, fn);

  let server;
  let jwks;
  const browsers = [];
  const contexts = [];
  const requests = []; // every request and socket a page made: {url, test}
  const pageErrors = [];

  const faces = () => Number(execFileSync('sqlite3', ['-readonly', join(server.dataDir, 'likeness.db'), 'select count(*) from faces'],
    { encoding: 'utf8' }).trim());

  before(async () => {
    if (skip) return;
    try {
      execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    } catch {
      throw new Error('the sqlite3 CLI is missing (apt-get install -y sqlite3; scripts/deps.sh installs it)');
    }
    server = await startServer();
    const res = await fetch(`${server.url}/.well-known/jwks.json`);
    assert.equal(res.status, 200, 'GET /.well-known/jwks.json');
    jwks = await res.json();
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1, `JWKS: ${JSON.stringify(jwks)}`);
    assert.equal(faces(), 0, 'a fresh store has no face');
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    for (const b of browsers) await b.close().catch(() => {});
    if (server) {
      const { code, signal, timedOut } = await server.stop();
      assert.ok(!timedOut, `the server did not stop within ${SERVER_STOP_TIMEOUT} ms of SIGTERM:\n${server.tail()}`);
      assert.equal(code, 0, `graceful shutdown exits 0 (code ${code}, signal ${signal}):\n${server.tail()}`);
    }
  });

  /** Launches a browser that is closed in after(). */
  async function launch(args) {
    const b = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
    browsers.push(b);
    return b;
  }

  /** Opens /demo in a fresh context of b, recording every request it makes. */
  async function openDemo(b, label) {
    const context = await b.newContext();
    contexts.push(context);
    context.on('request', (r) => requests.push({ url: r.url(), test: label }));
    const page = await context.newPage();
    page.on('websocket', (ws) => requests.push({ url: ws.url(), test: label }));
    page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
    page.consoleLines = [];
    page.on('console', (m) => page.consoleLines.push(`${m.type()}: ${m.text()}`));
    // The messages the widget sends (to read the payload of `start`).
    page.sent = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => {
      if (typeof f.payload !== 'string') return;
      try {
        page.sent.push(JSON.parse(f.payload));
      } catch {
        page.sent.push({ unparsable: f.payload });
      }
    }));
    // Keeps the camera streams, to check every track is stopped at the end.
    await page.addInitScript(() => {
      const md = navigator.mediaDevices;
      if (!md?.getUserMedia) return;
      const original = md.getUserMedia.bind(md);
      window.__streams = [];
      md.getUserMedia = async (constraints) => {
        const stream = await original(constraints);
        window.__streams.push(stream);
        return stream;
      };
    });
    await page.goto(`${server.url}/demo`);
    const publicId = await page.locator('meta[name="likeness-public-id"]').getAttribute('content');
    assert.equal(publicId, server.publicId, 'the demo page uses the demo application');
    return page;
  }

  /** What to show when something fails: #result, console, server logs. */
  async function diagnose(page) {
    const result = await page.locator('#result').textContent({ timeout: 2000 }).catch((e) => `(unreadable: ${e.message})`);
    const dialog = await page.locator('[data-likeness-widget]').count().catch(() => '?');
    const status = await page.locator('#lk-status').textContent({ timeout: 1000 }).catch(() => '(none)');
    const exited = server.proc.exitCode !== null || server.proc.signalCode !== null
      ? `THE SERVER HAS EXITED (code ${server.proc.exitCode}, signal ${server.proc.signalCode})\n` : '';
    return `${exited}last #result: ${result}\nwidget dialog open: ${dialog ? 'yes' : 'no'}; guidance: ${status}\n`
      + `page console (tail):\n${page.consoleLines.slice(-10).join('\n') || '(empty)'}\n`
      + `server stderr (tail):\n${server.tail()}`;
  }

  /** Clears #result (to wait for the next outcome). */
  const clearResult = (page) => page.evaluate(() => { document.getElementById('result').textContent = '—'; });

  /** Waits for #result to change and returns its JSON; fails with diagnostics on timeout. */
  async function result(page, what, timeout = RESULT_TIMEOUT) {
    try {
      await page.waitForFunction(() => document.getElementById('result').textContent !== '—', null, { timeout, polling: 50 });
    } catch (e) {
      throw new Error(`${what}: no result within ${timeout} ms (${e.message.split('\n')[0]})\n${await diagnose(page)}`);
    }
    const text = await page.locator('#result').textContent();
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`${what}: #result is not JSON: ${text}\n${await diagnose(page)}`);
    }
    assert.equal(await page.locator('[data-likeness-widget]').count(), 0, `${what}: the widget dialog is removed`);
    const live = await page.evaluate(() => (window.__streams || []).flatMap((st) => st.getTracks()).filter((tr) => tr.readyState !== 'ended').length);
    assert.equal(live, 0, `${what}: every camera track is stopped`);
    return { value, text };
  }

  /**
   * Waits for the widget's outcome screen and returns its message (the
   * screen shows before the promise settles); fails with diagnostics.
   */
  async function outcomeText(page, what, timeout = RESULT_TIMEOUT) {
    try {
      const h = await page.waitForFunction(() => {
        const el = document.querySelector('[data-likeness-widget]')?.shadowRoot?.querySelector('[data-testid="outcome"]');
        return el && !el.closest('[hidden]') && el.checkVisibility() && el.textContent ? el.textContent : false;
      }, null, { timeout, polling: 50 });
      return await h.jsonValue();
    } catch (e) {
      throw new Error(`${what}: no outcome screen within ${timeout} ms (${e.message.split('\n')[0]})\n${await diagnose(page)}`);
    }
  }

  /** Clicks the consent button once the consent screen shows; fails with diagnostics. */
  async function consent(page, testId, what) {
    let seen;
    try {
      // The consent button, or an outcome that came first (then fail at once).
      seen = await page.waitForFunction((id) => {
        if (document.getElementById('result').textContent !== '—') return 'result';
        // Every screen is in the dialog from the start; the others are hidden.
        const button = document.querySelector('[data-likeness-widget]')?.shadowRoot?.querySelector(`[data-testid="${id}"]`);
        return button && !button.closest('[hidden]') && button.checkVisibility() ? 'consent' : false;
      }, testId, { timeout: 30_000, polling: 50 }).then((h) => h.jsonValue());
    } catch (e) {
      throw new Error(`${what}: the consent screen did not show (${e.message.split('\n')[0]})\n${await diagnose(page)}`);
    }
    if (seen !== 'consent') throw new Error(`${what}: the operation ended before the consent screen\n${await diagnose(page)}`);
    await page.getByTestId(testId).click();
  }

  let live; // the page of the live camera browser
  let enrolled; // { facialId, payload, jti }
  const timings = {};

  e2eTest('authenticate before any enrollment → 3 UNRECOGNIZED_FACE, with its outcome screen', async () => {
    live = await openDemo(await launch(cameraArgs(LIVE)), 'live');
    await clearResult(live);
    await live.click('#authenticate');
    const message = await outcomeText(live, 'unrecognised');
    assert.match(message, /did not recognise you.*register first/, `the outcome screen says why and what to do: ${message}`);
    const { value, text } = await result(live, 'unrecognised');
    assert.equal(value.error, 3, `an unknown face rejects with 3: ${text}`);
    assert.equal(value.name, 'UNRECOGNIZED_FACE');
  });

  e2eTest('enroll → a Facial ID, a valid token, one stored face', async () => {
    live ??= await openDemo(await launch(cameraArgs(LIVE)), 'live');
    await clearResult(live);
    const sentBefore = live.sent.length;
    const streamsBefore = await live.evaluate(() => window.__streams.length);
    const tClick = performance.now();
    await live.click('#enroll');
    await consent(live, 'consent-accept', 'enroll');
    const t0 = performance.now();
    timings.toConsent = Math.round(t0 - tClick);
    const message = await outcomeText(live, 'enroll');
    timings.enroll = Math.round(performance.now() - t0);
    assert.match(message, /^You’re enrolled\./, `the success screen: ${message}`);
    const { value, text } = await result(live, 'enroll');
    assert.ok(typeof value.facialId === 'string' && UUID.test(value.facialId),
      `enroll resolves with a Facial ID (a UUID); got ${text}\n${await diagnose(live)}`);
    assert.deepEqual(Object.keys(value).sort(), ['details', 'facialId', 'timestamp', 'token'], `enroll result fields: ${text}`);
    assert.ok(value.details !== null && typeof value.details === 'object', `details: ${JSON.stringify(value.details)}`);
    assert.ok(!Number.isNaN(Date.parse(value.timestamp)), `timestamp: ${value.timestamp}`);
    assert.ok(Math.abs(Date.parse(value.timestamp) - Date.now()) < 120_000, `timestamp is now: ${value.timestamp}`);
    const claims = verifyToken(value.token, jwks, { iss: server.url, aud: server.publicId, sub: value.facialId, op: 'enroll' });
    const sent = live.sent.slice(sentBefore);
    const start = sent.find((m) => m.type === 'start');
    assert.ok(start, `the widget sent a start message: ${JSON.stringify(live.sent)}`);
    assert.equal(start.payload?.demo, true, `the demo enrolls with {demo: true, at}: ${JSON.stringify(start.payload)}`);
    assert.deepEqual(sent.filter((m) => m.type === 'consent').map((m) => m.accept), [true], 'one consent, accepted');
    assert.equal(faces(), 1, 'the faces table has one row');
    assert.equal(await live.evaluate(() => window.__streams.length), streamsBefore + 1, 'the camera was opened once (and is stopped)');
    enrolled = { facialId: value.facialId, payload: start.payload, jti: claims.jti };
  });

  e2eTest('authenticate → the same Facial ID and the enrollment payload', async () => {
    assert.ok(enrolled, 'needs the Facial ID of the enroll test (it failed)');
    await clearResult(live);
    const t0 = performance.now();
    await live.click('#authenticate');
    const message = await outcomeText(live, 'authenticate');
    timings.authenticate = Math.round(performance.now() - t0);
    assert.equal(message, 'Welcome back!', 'the success screen');
    const { value, text } = await result(live, 'authenticate');
    // enroll: from the consent accept click to the outcome screen;
    // authenticate: from the click on #authenticate to the outcome screen (it
    // needs no other click). The promise settles outcomeTimeout (2 s) later.
    console.log(`e2e timing: enroll ${timings.enroll} ms, authenticate ${timings.authenticate} ms`
      + ` (enroll: consent accept → outcome screen, after ${timings.toConsent} ms from click to consent screen incl. the 2 s intro;`
      + ' authenticate: click → outcome screen)');
    assert.deepEqual(Object.keys(value).sort(), ['facialId', 'payload', 'token'], `authenticate result: ${text}\n${await diagnose(live)}`);
    assert.equal(value.facialId, enrolled.facialId, 'the same Facial ID');
    assert.equal(value.payload.demo, true, `payload.demo: ${JSON.stringify(value.payload)}`);
    assert.deepEqual(value.payload, enrolled.payload, 'the payload the demo page sent at enrollment');
    const claims = verifyToken(value.token, jwks, { iss: server.url, aud: server.publicId, sub: enrolled.facialId, op: 'authenticate' });
    assert.notEqual(claims.jti, enrolled.jti, 'every token has its own jti');
    assert.equal(faces(), 1, 'authenticating stores no face');
  });

  e2eTest('decline consent → 11 TERMS_NOT_ACCEPTED, nothing stored', async () => {
    const page = live ?? await openDemo(await launch(cameraArgs(LIVE)), 'live');
    const before = faces();
    await clearResult(page);
    await page.click('#enroll');
    await consent(page, 'consent-decline', 'decline');
    const { value, text } = await result(page, 'decline');
    assert.equal(value.error, 11, `decline rejects with 11: ${text}\n${await diagnose(page)}`);
    assert.equal(value.name, 'TERMS_NOT_ACCEPTED');
    assert.equal(value.facialId, undefined);
    // The server learns of the decline after the widget settled: let it act.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(faces(), before, 'the faces row count is unchanged');
  });

  e2eTest('camera denied → 1 PERMISSION_REFUSED, nothing stored', async () => {
    const page = await openDemo(await launch(DENIED_ARGS), 'denied');
    const before = faces();
    await clearResult(page);
    await page.click('#enroll');
    const message = await outcomeText(page, 'camera denied', 30_000);
    assert.match(message, /camera is blocked.*site settings/, `the outcome screen says how to allow the camera: ${message}`);
    const { value, text } = await result(page, 'camera denied', 30_000);
    assert.equal(value.error, 1, `a refused camera rejects with 1: ${text}\n${await diagnose(page)}`);
    assert.equal(value.name, 'PERMISSION_REFUSED');
    // The server is told only if the socket opened before the refusal.
    const cameras = page.sent.filter((m) => m.type === 'camera');
    assert.deepEqual(cameras, cameras.length ? [{ type: 'camera', ok: false, error: 'denied' }] : [], 'camera message');
    assert.equal(faces(), before, 'the faces row count is unchanged');
  });

  e2eTest('replay attack (tablet replay clip) → 5 PAD_ATTACK, never a Facial ID', async () => {
    const page = await openDemo(await launch(cameraArgs(REPLAY)), 'replay');
    const before = faces();
    await clearResult(page);
    await page.click('#enroll');
    await consent(page, 'consent-accept', 'replay enroll');
    const message = await outcomeText(page, 'replay enroll');
    assert.match(message, /liveness check failed.*not a photo or a screen/, `the outcome screen: ${message}`);
    const { value, text } = await result(page, 'replay enroll');
    assert.equal(value.facialId, undefined, `a replayed video must not enroll: ${text}`);
    assert.equal(value.error, 5, `a replay rejects with 5 PAD_ATTACK: ${text}\n${await diagnose(page)}`);
    assert.equal(value.name, 'PAD_ATTACK');
    assert.equal(faces(), before, 'the faces row count is unchanged');
  });

  e2eTest('no third-party request: every request of every page went to the server', () => {
    assert.ok(requests.length > 0, 'requests were recorded');
    const origin = new URL(server.url);
    const wsOrigin = `ws://${origin.host}`;
    if (process.env.LIKENESS_E2E_VERBOSE) console.log([...new Set(requests.map((r) => `${r.test} ${r.url}`))].join('\n'));
    const foreign = requests.filter(({ url }) => !(url.startsWith(`${server.url}/`) || url.startsWith(`${wsOrigin}/`)));
    assert.deepEqual(foreign, [], `requests that left ${server.url}`);
    const paths = new Set(requests.map(({ url }) => new URL(url).pathname));
    for (const p of ['/demo', '/fio.js', '/demo.js', '/widget/check', '/widget/ws']) assert.ok(paths.has(p), `${p} was requested: ${[...paths]}`);
    assert.deepEqual(pageErrors, [], 'no uncaught page error');
  });
});
