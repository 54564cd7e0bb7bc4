// End-to-end test of the console and the self-service privacy page: the real
// `bin/likeness serve --demo` (real models, real SQLite store) driven by
// headless Chromium with a fake camera fed from a video file. No mocks.
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/console.e2e.test.mjs
//
// It does not build: bin/likeness must exist (`make build` makes it).
// Skipped, with a printed reason, when /usr/bin/chromium or the shared face
// video (../shared/faces/video, relative to the repo root) is missing.
// LIKENESS_SCREENSHOTS=docs/screenshots also saves screenshots of the pages.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'likeness');
const CHROMIUM = '/usr/bin/chromium';
const LIVE = join(ROOT, '..', 'shared', 'faces', 'video', 'live_lmm_hamilton_640x480.mjpeg');
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${LIVE}`];
const SHOTS = process.env.LIKENESS_SCREENSHOTS ? resolve(ROOT, process.env.LIKENESS_SCREENSHOTS) : null;
const RESULT_TIMEOUT = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EMAIL = 'owner@example.com';
const PASSWORD = 'a long enough console password';

const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is absent (apt-get install -y chromium)`
  : !existsSync(LIVE) ? `the fake camera video ${LIVE} is absent (../shared is needed)` : false;
if (skip) console.log(`console e2e tests skipped: ${skip}`);

/** Starts `bin/likeness serve --demo` on a free port with a fresh data dir. */
async function startServer() {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build it first (make build)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'likeness-console-e2e-'));
  const proc = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--data', dataDir, '--demo'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { logs.push(d); if (logs.length > 400) logs.splice(0, 200); });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stdout = '';
  proc.stdout.setEncoding('utf8');
  const started = await new Promise((res, rej) => {
    proc.stdout.on('data', (chunk) => {
      stdout += chunk;
      const url = /likeness serving on (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout);
      const demo = /demo: \S+ \(application (app_\S+)\)\n/.exec(stdout);
      if (url && demo) res({ url: url[1], demoPublicId: demo[1] });
    });
    exited.then(({ code }) => rej(new Error(`the server exited (${code}) before it was ready:\n${logs.join('').slice(-3000)}`)));
    setTimeout(() => rej(new Error(`the server did not start in 30 s:\n${stdout}`)), 30_000).unref();
  });
  return {
    ...started, dataDir, proc,
    tail: () => logs.join('').split('\n').slice(-25).join('\n'),
    async stop() {
      process.removeListener('exit', killOnExit);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        const out = await exited;
        clearTimeout(timer);
        rmSync(dataDir, { recursive: true, force: true });
        return out;
      }
      rmSync(dataDir, { recursive: true, force: true });
      return { code: proc.exitCode, signal: proc.signalCode };
    },
  };
}

describe('console and privacy page end to end', { timeout: 600_000 }, () => {
  const step = (name, fn) => test(name, { skip, timeout: 180_000 }, fn);
  let server;
  let browser;
  let context;
  let page;
  const requests = [];
  const problems = []; // page errors and CSP violations
  const state = {};

  const faces = () => Number(execFileSync('sqlite3', ['-readonly', join(server.dataDir, 'likeness.db'),
    'select count(*) from faces'], { encoding: 'utf8' }).trim());
  const shot = async (p, name, opts = {}) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: join(SHOTS, name), fullPage: true, ...opts });
  };
  const api = (path, key, init = {}) => fetch(`${server.url}${path}`, { ...init, headers: { Authorization: `Bearer ${key}` } });

  before(async () => {
    if (skip) return;
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    context.on('request', (r) => requests.push(r.url()));
    page = await context.newPage();
    page.on('websocket', (ws) => requests.push(ws.url()));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (server) {
      const { code } = await server.stop();
      assert.equal(code, 0, `graceful shutdown:\n${server.tail()}`);
    }
  });

  /** Enrolls the fake camera's face through /demo and returns its Facial ID. */
  async function enrollOnDemo(accept = true) {
    const demo = await context.newPage();
    demo.on('pageerror', (e) => problems.push(`demo page error: ${e.message}`));
    await demo.goto(`${server.url}/demo`);
    await demo.evaluate(() => { document.getElementById('result').textContent = '—'; });
    await demo.click('#enroll');
    const id = accept ? 'consent-accept' : 'consent-decline';
    await demo.getByTestId(id).click({ timeout: 30_000 });
    await demo.waitForFunction(() => document.getElementById('result').textContent !== '—', null, { timeout: RESULT_TIMEOUT });
    const result = JSON.parse(await demo.locator('#result').textContent());
    await demo.close();
    return result;
  }

  step('sign up: the first account, with the demo organization', async () => {
    await page.goto(`${server.url}/console`);
    assert.match(page.url(), /\/console\/signin/, 'signed-out visitors are sent to sign in');
    await page.click('text=Create an account');
    await page.fill('#email', EMAIL);
    await page.fill('#org', 'Acme Robotics');
    await page.fill('#password', PASSWORD);
    await page.fill('#confirm', PASSWORD);
    await shot(page, 'signup.png');
    await page.getByTestId('signup-submit').click();
    await page.waitForURL(/\/console\/apps$/);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === '__Host-likeness_console');
    assert.ok(session, `a session cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Strict');
    assert.ok(cookies.every((c) => c.name.startsWith('__Host-likeness_')), 'only the console\'s own cookies');
    await page.getByTestId('app-link').filter({ hasText: 'Likeness demo' }).waitFor();
  });

  step('create an application: its first API key is shown once', async () => {
    await page.fill('#name', 'Shop');
    await page.fill('#origins', 'https://shop.example');
    await page.getByTestId('create-app').click();
    const key = await page.getByTestId('new-api-key').textContent();
    assert.match(key, /^lk_[A-Za-z0-9_-]{43}$/);
    state.shopPublicId = await page.getByTestId('public-id').textContent();
    await shot(page, 'console-app.png');
    await page.goto(`${server.url}/console/apps/${state.shopPublicId}`);
    assert.ok(!(await page.content()).includes(key), 'the key is not shown again');

    // The widget admits this server's own origin for the privacy page's
    // authentication only (purpose=privacy), never for an enrollment nor for
    // a site's token; a site cannot ask for the privacy page's token.
    const check = (op, purpose = '', origin = server.url) => fetch(
      `${server.url}/widget/check?publicId=${state.shopPublicId}&op=${op}${purpose ? '&purpose=' + purpose : ''}`, { headers: { Origin: origin } });
    assert.equal((await check('authenticate', 'privacy')).status, 200, 'the privacy page may authenticate');
    assert.equal((await check('authenticate')).status, 403, 'no site token for this server\'s origin');
    assert.equal((await check('authenticate', 'privacy', 'https://shop.example')).status, 403, 'a site gets no privacy token');
    const refused = await check('enroll', 'privacy');
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).fioCode, 17, 'FORBIDDDEN_ORIGIN for an enrollment from this server');
  });

  step('demo application: collection ID, an API key, a webhook endpoint', async () => {
    await page.goto(`${server.url}/console/apps`);
    await page.getByTestId('app-link').filter({ hasText: 'Likeness demo' }).click();
    state.publicId = await page.getByTestId('public-id').textContent();
    assert.equal(state.publicId, server.demoPublicId);
    state.collection = await page.getByTestId('collection-id').textContent();
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.selectOption('#role', 'member');
    await page.getByTestId('create-key').click();
    state.apiKey = await page.getByTestId('new-api-key').textContent();
    assert.equal((await api(`/v1/collections/${state.collection}`, state.apiKey)).status, 200, 'the new key works');

    await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
    await page.fill('#url', 'https://hooks.example.invalid/likeness');
    await page.check('#ev-facialid\\.deleted');
    await page.getByTestId('add-webhook').click();
    const secret = await page.getByTestId('webhook-secret').textContent();
    assert.match(secret, /^whsec_/);
    await page.getByRole('link', { name: 'https://hooks.example.invalid/likeness' }).click();
    assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
    await page.getByRole('button', { name: 'Send a test event' }).click();
    await page.getByText('A test event was queued').waitFor();
    await page.waitForTimeout(1500); // let the worker try it once
    await page.reload();
    await shot(page, 'console-webhook.png');
  });

  step('enroll through the demo page; the Facial ID shows in the console', async () => {
    const declined = await enrollOnDemo(false);
    assert.equal(declined.error, 11, `a declined notice: ${JSON.stringify(declined)}`);
    const res = await enrollOnDemo();
    assert.match(res.facialId ?? '', UUID, `enroll: ${JSON.stringify(res)}\n${server.tail()}`);
    state.facialId = res.facialId;
    assert.equal(faces(), 1);

    await page.goto(`${server.url}/console/apps/${state.publicId}/faces`);
    const row = page.getByTestId('face-row').filter({ hasText: state.facialId });
    await row.waitFor();
    await shot(page, 'console-faces.png');
    await page.fill('#q', 'demo=true');
    await page.click('button:has-text("Search")');
    await row.waitFor();
    await row.getByRole('link').click();
    assert.equal(await page.getByTestId('facial-id').textContent(), state.facialId);
    await page.getByText('Accepted the notice in the widget').waitFor();
    await shot(page, 'console-face.png');
    assert.equal((await api(`/v1/collections/${state.collection}/faces/${state.facialId}`, state.apiKey)).status, 200);
  });

  step('erase it from the console: gone everywhere', async () => {
    await page.check('#confirm');
    await page.getByTestId('delete-face').click();
    await page.waitForURL(/done=face-deleted/);
    await page.getByText('The Facial ID was erased.').waitFor();
    assert.equal(await page.getByTestId('face-row').count(), 0, 'the console list is empty');
    assert.ok(!(await page.content()).includes(state.facialId));
    const r = await api(`/v1/collections/${state.collection}/faces/${state.facialId}`, state.apiKey);
    assert.equal(r.status, 404, 'the REST API no longer knows it');
    assert.equal(faces(), 0, 'the faces table is empty');
  });

  step('self-service: a replayed recording cannot open the privacy page (strict liveness)', async () => {
    // The privacy page always verifies with strict liveness: random head-turn
    // and blink prompts. Chromium's fake camera replays a recorded clip, which
    // cannot follow them, so the page must stay closed — exactly what it must
    // do for anyone replaying a video of the person. (A person who follows
    // the prompts gets in: go test ./server -run 'Strict|Privacy' and
    // ./web -run Privacy cover that with real turned frames and tokens.)
    const res = await enrollOnDemo();
    assert.match(res.facialId ?? '', UUID, `enroll again: ${JSON.stringify(res)}`);
    state.facialId2 = res.facialId;
    assert.equal(faces(), 1);

    const privacy = await context.newPage();
    privacy.on('pageerror', (e) => problems.push(`privacy page error: ${e.message}`));
    privacy.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`); });
    const replies = [];
    privacy.on('websocket', (ws) => ws.on('framereceived', (f) => {
      try { replies.push(JSON.parse(String(f.payload))); } catch { /* binary */ }
    }));
    await privacy.goto(`${server.url}/privacy/${state.publicId}`);
    await shot(privacy, 'privacy.png');
    await privacy.getByTestId('privacy-verify').click();
    await privacy.getByText('We could not verify you.').waitFor({ timeout: 3 * RESULT_TIMEOUT }).catch(async (e) => {
      throw new Error(`no refusal: ${await privacy.locator('#privacy-status').textContent()}\n${e.message}\n${server.tail()}`);
    });
    const prompts = replies.filter((m) => m.type === 'guide' && ['turn_left', 'turn_right', 'blink'].includes(m.hint));
    const ended = replies.find((m) => m.type === 'error');
    assert.equal(ended?.code, 5, `refused as a presentation attack: ${JSON.stringify(ended)}`);
    assert.ok(!replies.some((m) => m.type === 'result' || m.token), 'no token was issued');
    assert.ok(prompts.length > 0 || ended.code === 5, 'the challenge was asked or the replay refused before it');
    assert.equal(await privacy.getByTestId('privacy-facial-id').count(), 0, 'no privacy session');
    assert.ok(!(await context.cookies()).some((c) => c.name === '__Host-likeness_privacy'), 'no privacy cookie');
    await privacy.close();

    // The site erases the face through the API instead.
    const r = await api(`/v1/collections/${state.collection}/faces/${state.facialId2}`, state.apiKey, { method: 'DELETE' });
    assert.equal(r.status, 204);
    assert.equal(faces(), 0, 'the faces table is empty');
  });

  step('analytics and audit trail', async () => {
    await page.goto(`${server.url}/console/apps/${state.publicId}/analytics`);
    await page.getByText('Enrollments: 2 in the last 30 days').waitFor();
    // The one authentication was the refused privacy-page replay (counted
    // as a PAD_ATTACK outcome, or not at all for the privacy purpose).
    await page.getByText(/Authentications: (\d+|none) in the last 30 days/).waitFor();
    assert.ok(await page.locator('svg.chart-svg rect.bar').count() >= 3, 'bars are drawn');
    assert.ok((await page.content()).includes('Notice declined (11)'), 'the declined notice is counted as a failure, in words');
    await shot(page, 'console-analytics.png');

    await page.goto(`${server.url}/console/apps`);
    await shot(page, 'console-apps.png');
    await page.locator('section.org-group').filter({ has: page.getByRole('heading', { name: 'Likeness demo' }) })
      .getByRole('link', { name: 'Audit trail' }).click();
    await page.getByText('Chain verified.').waitFor();
    const html = await page.content();
    for (const action of ['facialid.deleted', 'webhook.endpoint_created', 'webhook.test_sent', 'apikey.created']) {
      assert.ok(html.includes(action), `the audit trail has ${action}`);
    }
    await shot(page, 'console-audit.png');
    for (const [tab, name] of [['Consent notice', 'console-consent.png'], ['Security', 'console-security.png']]) {
      await page.goto(`${server.url}/console/apps/${state.publicId}`);
      await page.getByRole('link', { name: tab, exact: true }).click();
      await shot(page, name);
    }
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${server.url}/console/apps/${state.publicId}`);
    await shot(phone, 'console-phone.png');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
    await phone.close();
  });

  step('keyboard: the skip link is the first stop and moves focus to the content', async () => {
    await page.goto(`${server.url}/console/apps`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to main content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  });

  step('sign out', async () => {
    await page.getByTestId('signout').click();
    await page.waitForURL(/\/console\/signin\?done=signedout/);
    assert.ok(!(await context.cookies()).some((c) => c.name === '__Host-likeness_console'), 'the session cookie is gone');
    await page.goto(`${server.url}/console/apps`);
    assert.match(page.url(), /\/console\/signin/);
  });

  step('no third-party request, no CSP violation, no page error', () => {
    const ws = server.url.replace(/^http/, 'ws');
    const foreign = requests.filter((u) => !u.startsWith(`${server.url}/`) && !u.startsWith(`${ws}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'every request went to the server');
    assert.deepEqual(problems, []);
  });
});
