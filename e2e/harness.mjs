// Shared by the end-to-end tests: where things are, when to skip, and how
// to run the real `bin/likeness serve` on a fresh data directory.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'likeness');
export const CHROMIUM = '/usr/bin/chromium';
export const VIDEOS = join(ROOT, '..', 'shared', 'faces', 'video');
export const LIVE = join(VIDEOS, 'live_lmm_hamilton_640x480.mjpeg');
export const REPLAY = join(VIDEOS, 'spoof_replay_silentface_F2_640x480.mjpeg');

export const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--use-fake-device-for-media-stream'];
export const cameraArgs = (video) => [...BASE_ARGS, '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`];
// As widget/test/browser.test.mjs: no fake UI, so the permission prompt is
// shown, and --deny-permission-prompts answers it with a refusal.
export const DENIED_ARGS = [...BASE_ARGS, '--deny-permission-prompts', `--use-file-for-fake-video-capture=${LIVE}`];

export const RESULT_TIMEOUT = 60_000; // per operation, from the click to #result
export const SERVER_START_TIMEOUT = 30_000;
export const SERVER_STOP_TIMEOUT = 20_000;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install -y chromium)`
  : !existsSync(VIDEOS) ? `the shared face videos ${VIDEOS} are absent`
    : !existsSync(LIVE) ? `the fake camera video ${LIVE} is absent`
      : !existsSync(REPLAY) ? `the replay attack video ${REPLAY} is absent` : false;
if (skip) console.log(`e2e tests skipped: ${skip}`);

/** Starts `bin/likeness serve --demo` on a free port with a fresh data dir (and extra flags). */
export async function startServer({ addr = '127.0.0.1:0', dataDir = mkdtempSync(join(tmpdir(), 'likeness-e2e-')), args = [] } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: build it first (make build, or: go build -o bin/likeness ./cmd/likeness)`);
  }
  const proc = spawn(BIN, ['serve', '--addr', addr, '--data', dataDir, '--demo', ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = [];
  let stdout = '';
  let partial = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    stderr.push(...lines);
    if (stderr.length > 2000) stderr.splice(0, stderr.length - 1000);
  });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  // Last resort if the test process dies without running its after hooks.
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const server = {
    proc, dataDir, exited,
    /** The last n lines the server wrote to stderr (its JSON logs). */
    tail(n = 25) {
      const lines = partial ? [...stderr, partial] : stderr;
      return lines.slice(-n).join('\n') || '(empty)';
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      let outcome = { code: proc.exitCode, signal: proc.signalCode };
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        let timer;
        const late = new Promise((res) => { timer = setTimeout(() => res(null), SERVER_STOP_TIMEOUT); });
        outcome = await Promise.race([exited, late]);
        clearTimeout(timer);
        if (!outcome) {
          proc.kill('SIGKILL');
          await exited;
          outcome = { code: null, signal: 'SIGKILL', timedOut: true };
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
      return outcome;
    },
  };
  proc.stdout.setEncoding('utf8');
  const started = new Promise((res, rej) => {
    proc.stdout.on('data', (chunk) => {
      stdout += chunk;
      const serving = /likeness serving on (http:\/\/127\.0\.0\.1:\d+) \((?:data (.*)|database PostgreSQL)\)\n/.exec(stdout);
      const demo = /demo: (http:\/\/127\.0\.0\.1:\d+)\/demo \(application (app_\S+)\)\n/.exec(stdout);
      if (serving && demo) res({ url: serving[1], data: serving[2], demoOrigin: demo[1], publicId: demo[2] });
    });
    exited.then(({ code, signal }) => rej(new Error(
      `bin/likeness serve exited (code ${code}, signal ${signal}) before it was ready.\nstdout:\n${stdout}\nstderr tail:\n${server.tail()}`)));
    setTimeout(() => rej(new Error(
      `bin/likeness serve did not print its address within ${SERVER_START_TIMEOUT} ms.\nstdout:\n${stdout}\nstderr tail:\n${server.tail()}`)),
    SERVER_START_TIMEOUT).unref();
  });
  try {
    Object.assign(server, await started);
    if (server.data !== undefined) assert.equal(server.data, dataDir, 'the server reports the data dir it was given');
    assert.equal(server.demoOrigin, server.url, 'the demo is served by the server itself');
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/** base64url → Buffer / JSON. */

/** Returns a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Runs `bin/likeness` with arguments and returns its stdout. */
export function likeness(...args) {
  return execFileSync(BIN, args, { cwd: ROOT, encoding: 'utf8' });
}

/** Counts the rows of the faces table of a data directory. */
export function faceCount(dataDir) {
  return Number(execFileSync('sqlite3', ['-readonly', join(dataDir, 'likeness.db'), 'select count(*) from faces'],
    { encoding: 'utf8' }).trim());
}

/** Splits a Motion-JPEG file into its JPEG frames (SOI … EOI). */
export function splitMJPEG(buf) {
  const out = [];
  let start = -1;
  for (let i = 0; i + 1 < buf.length; i++) {
    if (buf[i] !== 0xff) continue;
    if (buf[i + 1] === 0xd8 && start < 0) start = i;
    else if (buf[i + 1] === 0xd9 && start >= 0) {
      out.push(buf.subarray(start, i + 2));
      start = -1;
    }
  }
  return out;
}
