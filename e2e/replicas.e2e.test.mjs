// End-to-end test of a multi-replica deployment: two `bin/likeness serve`
// processes on one PostgreSQL database and one Weaviate (both real: a
// throwaway cluster from Debian's postgresql and the weaviate-server that
// `make weaviate` builds, started by `go run ./e2e/backends`), driven by
// headless Chromium with a fake camera. A person enrolls through replica A
// and authenticates through replica B (same Facial ID); the face is erased
// through B, and a search through A no longer finds it; the audit trail that
// both wrote is intact (`likeness audit verify`).
//
//   go build -o bin/likeness ./cmd/likeness && node --test e2e/replicas.e2e.test.mjs
//
// Skipped, with the reason, without Chromium, the shared videos, PostgreSQL's
// binaries or weaviate-server. (Webhooks surviving a killed replica are
// tested in Go: cmd/likeness TestWebhooksSurviveAReplica.)
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';

import {
  BIN, CHROMIUM, LIVE, RESULT_TIMEOUT, ROOT, UUID, cameraArgs, freePort, skip as baseSkip, splitMJPEG, startServer,
} from './harness.mjs';

const BACKENDS_TIMEOUT = 240_000; // go run (a compile) + initdb + weaviate-server's start

function postgresBinaries() {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')));
  } catch {
    return false;
  }
}
const weaviateBin = process.env.LIKENESS_WEAVIATE_BIN || join(homedir(), '.cache', 'likeness', 'bin', 'weaviate-server');
const skip = baseSkip
  || (!postgresBinaries() ? 'PostgreSQL binaries are absent (apt-get install -y postgresql; scripts/deps.sh does)' : false)
  || (!existsSync(weaviateBin) ? `${weaviateBin} is absent (make weaviate builds it)` : false);
if (skip && !baseSkip) console.log(`replica e2e tests skipped: ${skip}`);

/** Starts PostgreSQL and Weaviate through `go run ./e2e/backends`; resolves with their addresses. */
function startBackends() {
  const proc = spawn('go', ['run', './e2e/backends'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { err = (err + c).slice(-20_000); });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const ready = new Promise((res, rej) => {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (c) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl >= 0) res(JSON.parse(out.slice(0, nl)));
    });
    exited.then(({ code }) => rej(new Error(`go run ./e2e/backends exited (${code}) before it was ready:\n${err.slice(-3000)}`)));
    setTimeout(() => rej(new Error(`the back ends were not ready within ${BACKENDS_TIMEOUT} ms:\n${err.slice(-3000)}`)),
      BACKENDS_TIMEOUT).unref();
  });
  return {
    ready,
    /** Stops both (their files are deleted) and waits for the process. */
    async stop() {
      process.removeListener('exit', killOnExit);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.stdin.end();
        const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

describe('two replicas on one PostgreSQL and one Weaviate', { timeout: 900_000 }, () => {
  const e2eTest = (name, fn) => test(name, { skip, timeout: 240_000 }, fn);
  let backends;
  let be; // {database, weaviate, weaviateKeyFile}
  let keyDir;
  let keyFile;
  let app; // the demo application, made before the servers start
  let a;
  let b;
  let browser;
  let enrolled; // Facial ID
  const probe = skip ? null : splitMJPEG(readFileSync(LIVE))[50]; // a frame facing the camera

  const storeArgs = () => ['--database', be.database, '--master-key-file', keyFile];

  before(async () => {
    if (skip) return;
    backends = startBackends();
    be = await backends.ready;
    keyDir = mkdtempSync(join(tmpdir(), 'likeness-replicas-'));
    keyFile = join(keyDir, 'master.key');
    const [pa, pb] = [await freePort(), await freePort()];
    // One demo application for both replicas' origins: each `serve --demo`
    // finds it (it allows the server's own origins) instead of making its own.
    const origins = [pa, pb].flatMap((p) => [`http://127.0.0.1:${p}`, `http://localhost:${p}`]);
    app = JSON.parse(execFileSync(BIN, ['app', 'create', ...storeArgs(), '--name', 'Likeness demo',
      ...origins.flatMap((o) => ['--origin', o]), '--json'], { cwd: ROOT, encoding: 'utf8' }));
    const serveArgs = [...storeArgs(), '--vector-store', 'weaviate', '--weaviate-url', be.weaviate,
      '--weaviate-api-key-file', be.weaviateKeyFile];
    a = await startServer({ addr: `127.0.0.1:${pa}`, args: serveArgs });
    b = await startServer({ addr: `127.0.0.1:${pb}`, args: serveArgs });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: cameraArgs(LIVE) });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    for (const s of [a, b]) {
      if (!s) continue;
      const { code, timedOut } = await s.stop();
      assert.ok(!timedOut && code === 0, `a replica stops cleanly on SIGTERM (code ${code}):\n${s.tail()}`);
    }
    await backends?.stop();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  /** Runs one widget operation on a replica's /demo page; returns #result's JSON. */
  async function widget(server, op) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/demo`);
      await page.click(`#${op}`);
      if (op === 'enroll') {
        await page.getByTestId('consent-accept').click({ timeout: RESULT_TIMEOUT });
      }
      try {
        await page.waitForFunction(() => document.getElementById('result').textContent !== '—', null,
          { timeout: RESULT_TIMEOUT, polling: 100 });
      } catch (e) {
        throw new Error(`${op} through ${server.url}: no result (${e.message.split('\n')[0]})\nserver:\n${server.tail()}`);
      }
      return JSON.parse(await page.locator('#result').textContent());
    } finally {
      await context.close();
    }
  }

  /** Searches the demo collection through a replica's REST API with the probe frame. */
  async function search(server) {
    const res = await fetch(`${server.url}/v1/collections/${app.collectionId}/search`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: probe.toString('base64'), limit: 5 }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, `search through ${server.url}: ${JSON.stringify(body)}`);
    return body.matches;
  }

  e2eTest('both replicas serve the one demo application', () => {
    assert.equal(a.publicId, app.publicId, 'replica A found the application made beforehand');
    assert.equal(b.publicId, app.publicId, 'replica B too');
  });

  e2eTest('enroll through A, authenticate through B: the same Facial ID', async () => {
    const e = await widget(a, 'enroll');
    assert.ok(UUID.test(e.facialId ?? ''), `enroll through A gives a Facial ID: ${JSON.stringify(e)}`);
    enrolled = e.facialId;
    const r = await widget(b, 'authenticate');
    assert.equal(r.facialId, enrolled, `authenticate through B finds the face enrolled through A: ${JSON.stringify(r)}`);
    const found = await search(a);
    assert.ok(found.some((m) => m.facialId === enrolled && m.match), `search through A finds it: ${JSON.stringify(found)}`);
  });

  e2eTest('erase through B: a search through A finds nothing, the widget through A does not recognise', async () => {
    assert.ok(enrolled, 'needs the Facial ID of the enroll test (it failed)');
    const res = await fetch(`${b.url}/v1/collections/${app.collectionId}/faces/${enrolled}`, {
      method: 'DELETE', headers: { Authorization: `Bearer ${app.apiKey}` },
    });
    assert.ok(res.status === 200 || res.status === 204, `erase through B: ${res.status} ${await res.text()}`);
    const found = await search(a);
    assert.ok(!found.some((m) => m.facialId === enrolled), `search through A after the erasure: ${JSON.stringify(found)}`);
    const read = await fetch(`${a.url}/v1/collections/${app.collectionId}/faces/${enrolled}`,
      { headers: { Authorization: `Bearer ${app.apiKey}` } });
    assert.equal(read.status, 404, 'reading the face through A: 404');
    const r = await widget(a, 'authenticate');
    assert.equal(r.facialId, undefined, `the widget through A recognises nobody: ${JSON.stringify(r)}`);
  });

  e2eTest('the audit trail written by both replicas verifies', () => {
    const out = execFileSync(BIN, ['audit', 'verify', ...storeArgs()], { cwd: ROOT, encoding: 'utf8' });
    assert.match(out, /intact|ok/i, `likeness audit verify: ${out}`);
  });
});
