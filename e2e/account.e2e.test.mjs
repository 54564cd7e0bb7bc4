// End-to-end test of support access and of deleting an organization (issue
// 17): the real `bin/likeness serve --demo` (real models, real SQLite) and
// `bin/likeness admin create --operator`, driven by headless Chromium with a
// fake camera. No mocks.
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/account.e2e.test.mjs
//
// Skipped, with a printed reason, when Chromium or ../shared is missing.
// LIKENESS_SCREENSHOTS=DIR also saves screenshots of the new pages.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { CHROMIUM, LIVE, RESULT_TIMEOUT, ROOT, UUID, cameraArgs, faceCount, likeness, skip, startServer } from './harness.mjs';

const OWNER = 'owner@example.com';
const OPERATOR = 'ops@likeness.example';
const PASSWORD = 'a long enough console password';
const SHOTS = process.env.LIKENESS_SCREENSHOTS ? resolve(ROOT, process.env.LIKENESS_SCREENSHOTS) : null;

describe('support access and organization deletion end to end', { timeout: 600_000 }, () => {
  const step = (name, fn) => test(name, { skip, timeout: 180_000 }, fn);
  let server;
  let browser;
  let owner; // the owner's page
  let ops; // the operator's page
  const problems = [];
  const state = {};

  const shot = async (p, name) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: join(SHOTS, name), fullPage: true });
  };
  const newPage = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`); });
    return p;
  };
  const signIn = async (p, email) => {
    await p.goto(`${server.url}/console/signin`);
    await p.fill('#email', email);
    await p.fill('#password', PASSWORD);
    await p.getByTestId('signin-submit').click();
    await p.waitForURL(/\/console\/apps/);
  };

  before(async () => {
    if (skip) return;
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: cameraArgs(LIVE) });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    if (server) {
      const { code } = await server.stop();
      assert.equal(code, 0, `graceful shutdown:\n${server.tail()}`);
    }
  });

  step('an owner with a face enrolled, and an operator made by the CLI', async () => {
    owner = await newPage();
    await owner.goto(`${server.url}/console/signup`);
    await owner.fill('#email', OWNER);
    await owner.fill('#org', 'Acme Robotics');
    await owner.fill('#password', PASSWORD);
    await owner.fill('#confirm', PASSWORD);
    await owner.getByTestId('signup-submit').click();
    await owner.waitForURL(/\/console\/apps$/);

    const demo = await newPage();
    await demo.goto(`${server.url}/demo`);
    await demo.evaluate(() => { document.getElementById('result').textContent = '—'; });
    await demo.click('#enroll');
    await demo.getByTestId('consent-accept').click({ timeout: 30_000 });
    await demo.waitForFunction(() => document.getElementById('result').textContent !== '—', null, { timeout: RESULT_TIMEOUT });
    const result = JSON.parse(await demo.locator('#result').textContent());
    assert.match(result.facialId ?? '', UUID, `enrolled: ${JSON.stringify(result)}`);
    state.facialId = result.facialId;
    await demo.context().close();
    assert.equal(faceCount(server.dataDir), 1);

    const pw = join(server.dataDir, 'ops-password');
    writeFileSync(pw, PASSWORD, { mode: 0o600 });
    const out = JSON.parse(likeness('admin', 'create', '--data', server.dataDir, '--email', OPERATOR, '--password-file', pw, '--operator', '--json'));
    rmSync(pw);
    assert.equal(out.operator, true);
    ops = await newPage();
    await signIn(ops, OPERATOR);
  });

  step('without a grant the operator gets 404 on the organization', async () => {
    await owner.goto(`${server.url}/console/apps`);
    await owner.getByTestId('app-link').filter({ hasText: 'Likeness demo' }).click();
    state.publicId = await owner.getByTestId('public-id').textContent();
    state.org = execFileSync('sqlite3', ['-readonly', join(server.dataDir, 'likeness.db'),
      `select org_id from applications where public_id = '${state.publicId}'`], { encoding: 'utf8' }).trim();
    assert.match(state.org, /^org_/);
    state.orgName = execFileSync('sqlite3', ['-readonly', join(server.dataDir, 'likeness.db'),
      `select name from organizations where id = '${state.org}'`], { encoding: 'utf8' }).trim();
    for (const path of [`/console/apps/${state.publicId}/faces`, `/console/apps/${state.publicId}/faces/${state.facialId}`]) {
      const r = await ops.goto(`${server.url}${path}`);
      assert.equal(r.status(), 404, path);
      assert.ok(!(await ops.content()).includes(state.facialId), 'no Facial ID on the 404 page');
    }
    await ops.goto(`${server.url}/console/support`);
    await ops.getByTestId('support-none').waitFor();
  });

  step('the owner grants support access; the operator reads, read-only, audited', async () => {
    await owner.goto(`${server.url}/console/orgs/${state.org}/support`);
    await owner.getByTestId('support-hours').fill('2');
    await owner.getByTestId('support-grant').click();
    await owner.getByTestId('support-active').waitFor();

    await ops.getByTestId('nav-support').click();
    await ops.getByRole('link', { name: 'Likeness demo' }).click();
    await ops.getByTestId('support-banner').waitFor();
    await ops.getByRole('link', { name: 'Facial IDs' }).click();
    await ops.getByTestId('support-banner').waitFor();
    assert.ok((await ops.content()).includes(state.facialId), 'the operator reads the faces page');
    await shot(ops, 'support-operator.png');

    await owner.reload();
    const uses = await owner.getByTestId('support-uses').textContent();
    assert.ok(uses.includes(OPERATOR) && uses.includes(`/console/apps/${state.publicId}/faces`), `the owner sees the use: ${uses}`);
    await shot(owner, 'support-owner.png');

    await owner.getByTestId('support-revoke').click();
    await owner.getByText('Support access was ended.').waitFor();
    const r = await ops.goto(`${server.url}/console/apps/${state.publicId}/faces`);
    assert.equal(r.status(), 404, 'revoked');
  });

  step('deleting the organization: export first, typed name, then nothing is left', async () => {
    await owner.goto(`${server.url}/console/orgs/${state.org}/delete`);
    await shot(owner, 'org-delete.png');
    const [download] = await Promise.all([owner.waitForEvent('download'), owner.getByTestId('org-export').click()]);
    const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(exported.organization.name, state.orgName);
    assert.ok(exported.members.some((m) => m.email === OWNER));
    assert.equal(exported.consentRecords.length, 1);
    assert.ok(!JSON.stringify(exported).includes('whsec_'));

    // The browser refuses a wrong name before sending; the server refuses it too.
    await owner.getByTestId('org-delete-confirm').fill(state.orgName.toLowerCase());
    await owner.getByTestId('org-delete').click();
    assert.equal(await owner.getByTestId('org-delete-confirm').getAttribute('aria-invalid'), 'true');
    assert.equal(faceCount(server.dataDir), 1, 'nothing deleted');

    await owner.getByTestId('org-delete-confirm').fill(state.orgName);
    await owner.getByTestId('org-delete').click();
    // The owner still has their own organization: back to it, without the deleted one.
    await owner.waitForURL(/\/console\/apps\?done=org-deleted/);
    await owner.getByText('The organization was deleted').waitFor();
    assert.equal(await owner.getByTestId('app-link').filter({ hasText: 'Likeness demo' }).count(), 0);
    assert.equal(faceCount(server.dataDir), 0, 'no face left in the database file');
    const gone = await owner.goto(`${server.url}/console/apps/${state.publicId}`);
    assert.equal(gone.status(), 404);

    const check = await fetch(`${server.url}/widget/check?publicId=${state.publicId}&op=authenticate`, { headers: { Origin: server.url } });
    assert.notEqual(check.status, 200, 'the widget refuses a deleted organization');

    const restored = JSON.parse(likeness('org', 'restore', '--data', server.dataDir, '--org', state.org, '--json'));
    assert.equal(restored.members, 1);
    await owner.goto(`${server.url}/console/apps`);
    await owner.getByTestId('app-link').filter({ hasText: 'Likeness demo' }).waitFor();
    await owner.getByTestId('app-link').filter({ hasText: 'Likeness demo' }).click();
    await owner.getByRole('link', { name: 'Facial IDs' }).click();
    assert.ok(!(await owner.content()).includes(state.facialId), 'no face comes back');
    assert.equal(problems.length, 0, problems.join('\n'));
  });
});

