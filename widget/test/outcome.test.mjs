// Outcome screens, retry in the same dialog, camera-trouble guidance and
// FACEIO's restartSession-in-every-catch boilerplate, through the fakes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFaceIO } from '../src/faceio.js';
import { DARK_LUMA, NO_FACE_HELP_MS } from '../src/session.js';
import { fakeEnv, flush, track } from '../testkit/fakes.mjs';

/** Starts an operation with outcome screens on (the default) and opens its socket. */
async function start(op, params = {}, env = fakeEnv()) {
  const fio = new (createFaceIO(env))('pub_1', { host: 'https://likeness.test' });
  const outcome = track(fio[op](params));
  await flush();
  env.socket?.open();
  await flush();
  return { env, fio, outcome, ws: env.socket, ui: env.ui };
}

test('success: "Welcome back" screen for outcomeTimeout, then the promise resolves', async () => {
  const { env, outcome, ws, ui } = await start('authenticate');
  ws.push({ type: 'result', facialId: 'f', payload: null, token: 't' });
  await flush();
  assert.equal(ui.screen, 'outcome');
  assert.deepEqual({ ...ui.outcome, choose: undefined }, { ok: true, op: 'authenticate', code: 0, retry: false, choose: undefined });
  assert.ok(ws.closed && env.streams[0].stopped, 'camera and socket end with the attempt');
  assert.equal(outcome.state, 'pending', 'the screen shows first');
  assert.equal(ui.closed, false);
  await env.clock.advance(1999);
  assert.equal(outcome.state, 'pending');
  await env.clock.advance(1);
  assert.deepEqual(outcome, { state: 'resolved', value: { facialId: 'f', payload: null, token: 't' } });
  assert.ok(ui.closed);
});

test('an error screen stays twice as long; Close settles at once', async () => {
  const { env, outcome, ws, ui } = await start('authenticate', { outcomeTimeout: 1 });
  ws.push({ type: 'error', code: 18 });
  await flush();
  assert.equal(ui.outcome.code, 18);
  assert.equal(ui.outcome.retry, false, 'a refused country is not worth retrying');
  await env.clock.advance(1500);
  assert.equal(outcome.state, 'pending');
  ui.outcome.choose(false);
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 18 });
  assert.ok(ui.closed);
});

test('Try again runs a new attempt in the same dialog; the promise settles with its outcome', async () => {
  const { env, outcome, ws, ui } = await start('authenticate');
  ws.push({ type: 'error', code: 2 });
  await flush();
  assert.equal(ui.outcome.retry, true);
  ui.outcome.choose(true);
  await flush();
  assert.equal(env.uis.length, 1, 'the dialog stays open');
  assert.equal(env.checks.length, 2);
  assert.equal(env.streams.length, 2, 'the camera is asked for again');
  const ws2 = env.socket;
  assert.notEqual(ws2, ws);
  ws2.open();
  await flush();
  assert.equal(ws2.messages[0].type, 'start');
  await env.clock.advance(10_000);
  assert.equal(outcome.state, 'pending', 'the first attempt\'s timer is gone');
  ws2.push({ type: 'result', facialId: 'g', payload: 1, token: 'u' });
  await env.clock.advance(2000);
  assert.deepEqual(outcome, { state: 'resolved', value: { facialId: 'g', payload: 1, token: 'u' } });
});

test('Escape or Cancel on an outcome screen closes it with that outcome', async () => {
  const { outcome, ws, ui } = await start('authenticate');
  ws.push({ type: 'error', code: 5 });
  await flush();
  ui.options.onAbort();
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 5 });
});

test('no outcome screen when the visitor closed the widget (13)', async () => {
  const { outcome, ui } = await start('authenticate');
  ui.options.onAbort();
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 13 });
  assert.ok(!ui.screens.includes('outcome'));
});

test('camera refused: an outcome screen that says how to allow it', async () => {
  const env = fakeEnv();
  env.camera = () => Promise.reject('denied');
  const { outcome, ui } = await start('enroll', { enrollIntroTimeout: 0 }, env);
  assert.equal(ui.screen, 'outcome');
  assert.equal(ui.outcome.code, 1);
  assert.equal(outcome.state, 'pending');
});

test('restartSession() after SESSION_IN_PROGRESS (FACEIO\'s boilerplate) leaves the running session alone', async () => {
  const { fio, outcome, ws } = await start('authenticate', { outcomeScreens: false });
  const second = track(fio.authenticate());
  await flush();
  assert.deepEqual(second, { state: 'rejected', value: 20 });
  assert.equal(fio.restartSession(), true, 'the boilerplate\'s catch');
  await flush();
  assert.equal(outcome.state, 'pending', 'the visitor\'s session goes on');
  assert.ok(!ws.closed);
  assert.equal(fio.restartSession(), true, 'a deliberate restart');
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 13 });
});

test('no face: a dark picture says "too dark"; after a while the help says what to change', async () => {
  const env = fakeEnv();
  let luma = 200;
  env.brightness = () => luma;
  const { ws, ui } = await start('authenticate', {}, env);
  ws.push({ type: 'capture' });
  ws.push({ type: 'guide', hint: 'no_face' });
  assert.equal(ui.statuses.at(-1), 'no_face');
  await env.clock.advance(NO_FACE_HELP_MS);
  ws.push({ type: 'guide', hint: 'no_face' });
  assert.equal(ui.statuses.at(-1), 'no_face_help');
  luma = DARK_LUMA - 1;
  ws.push({ type: 'guide', hint: 'no_face' });
  assert.equal(ui.statuses.at(-1), 'too_dark');
  ws.push({ type: 'guide', hint: 'move_closer' });
  luma = 200;
  ws.push({ type: 'guide', hint: 'no_face' });
  assert.equal(ui.statuses.at(-1), 'no_face', 'the help waits again after a face was seen');
});

test('a busy server (15 with a wait) says how long to wait and offers a retry; the promise rejects with 15', async () => {
  const env = fakeEnv();
  env.checkCode = 15;
  env.checkRetryAfter = 4;
  const fio = new (createFaceIO(env))('pub_1', { host: 'https://likeness.test' });
  const outcome = track(fio.authenticate());
  await flush();
  assert.equal(env.sockets.length, 0, 'no socket after a refused check');
  assert.deepEqual({ ...env.ui.outcome, choose: undefined }, { ok: false, op: 'authenticate', code: 15, retry: true, wait: 4, choose: undefined });
  env.ui.outcome.choose(false);
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 15 });
});

test('15 without a wait (a cool-down) keeps the plain message and no retry', async () => {
  const env = fakeEnv();
  env.checkCode = 15;
  const fio = new (createFaceIO(env))('pub_1', { host: 'https://likeness.test' });
  track(fio.authenticate());
  await flush();
  assert.equal(env.ui.outcome.wait, undefined);
  assert.equal(env.ui.outcome.retry, false);
});
