// The operation state machine and the faceIO class, driven through fakes
// (widget/testkit/fakes.mjs) that play the browser and the server. Most tests
// turn the outcome screens off (QUIET) to see the promise settle at once;
// widget/test/outcome.test.mjs covers the screens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFaceIO } from '../src/faceio.js';
import { fakeEnv, fakeStream, flush, track } from '../testkit/fakes.mjs';

const CONSENT = {
  type: 'consent', version: 3, sha256: 'ab'.repeat(32), locale: 'fr',
  title: 'Avis', text: 'Nous gardons un gabarit.', privacyUrl: 'https://site.test/privacy',
};

/** Outcome screens off: the promise settles as soon as the operation ends. */
const QUIET = { outcomeScreens: false };

/** Starts an operation and opens its socket. */
async function start(op, params = {}, env = fakeEnv()) {
  const FaceIO = createFaceIO(env);
  const fio = new FaceIO('pub_1', { host: 'https://likeness.test/' });
  const outcome = track(fio[op]({ ...QUIET, ...params }));
  await flush();
  env.socket?.open();
  await flush();
  return { env, fio, outcome, ws: env.socket, ui: env.ui };
}

test('enroll: start first, consent, capture, flow-controlled frames, result', async () => {
  const { env, outcome, ws, ui } = await start('enroll', { payload: { user: 42 }, enrollIntroTimeout: 1 });
  assert.deepEqual(env.checks, ['https://likeness.test/widget/check?publicId=pub_1&op=enroll']);
  assert.equal(ws.url, 'wss://likeness.test/widget/ws?publicId=pub_1&op=enroll');
  assert.deepEqual(ws.messages, [
    { type: 'start', locale: 'fr', payload: { user: 42 }, userConsent: false, idleTimeout: 27, replyTimeout: 40 },
    { type: 'camera', ok: true },
  ]);
  assert.equal(ui.options.locale, 'fr');
  assert.equal(ui.screen, 'intro');

  ws.push(CONSENT);
  assert.equal(ui.screen, 'intro', 'consent waits for the intro');
  await env.clock.advance(1000);
  assert.equal(ui.screen, 'consent');
  assert.deepEqual(ui.consent.notice, { title: 'Avis', text: 'Nous gardons un gabarit.', privacyUrl: 'https://site.test/privacy', locale: 'fr' });
  await env.clock.advance(100_000);
  assert.equal(outcome.state, 'pending', 'replyTimeout does not run while the user reads the notice');

  ui.consent.answer(true);
  assert.deepEqual(ws.messages.at(-1), { type: 'consent', accept: true, version: 3, sha256: CONSENT.sha256 });
  assert.equal(ui.screen, 'camera');
  assert.equal(ws.frames.length, 0, 'no frame before capture');

  ws.push({ type: 'capture', maxFps: 10, maxBytes: 100_000, width: 640, height: 480 });
  await env.clock.advance(1000);
  assert.equal(ws.frames.length, 2, 'at most two frames unanswered');
  assert.deepEqual([...new Uint8Array(ws.frames[0]).slice(0, 2)], [0xff, 0xd8]);

  ws.push({ type: 'guide', hint: 'move_closer', progress: 0.25 });
  await env.clock.advance(0);
  assert.equal(ws.frames.length, 3, 'a guide gives one credit back');
  assert.equal(ui.statuses.at(-1), 'move_closer');
  assert.deepEqual(ui.progresses, [0.25]);
  ws.push({ type: 'guide', hint: 'not_a_hint', progress: 0.5 });
  assert.equal(ui.statuses.at(-1), 'move_closer', 'unknown hints are not shown');

  ws.push({ type: 'guide', hint: 'hold_still', progress: 0.5 });
  ws.push({ type: 'guide', hint: 'ok', progress: 1 });
  await env.clock.advance(1000);
  assert.ok(ws.frames.length <= 5, `no more than 2 in flight (sent ${ws.frames.length})`);

  ws.push({ type: 'result', facialId: 'fid_1', timestamp: '2025-01-01T00:00:00Z', details: { age: 30 }, token: 'jwt', extra: 'x' });
  await flush();
  assert.deepEqual(outcome, {
    state: 'resolved',
    value: { facialId: 'fid_1', timestamp: '2025-01-01T00:00:00Z', details: { age: 30 }, token: 'jwt' },
  });
  assert.ok(env.streams[0].stopped, 'camera stopped');
  assert.ok(ui.closed, 'dialog closed');
  assert.ok(ws.closed, 'socket closed');
  assert.equal(env.clock.pending, 0, 'no timer left');
});

test('frames respect maxFps', async () => {
  const { env, ws } = await start('authenticate');
  ws.push({ type: 'capture', maxFps: 4 });
  ws.answered = 0;
  // Answer every frame at once so that only the rate limits.
  for (let ms = 0; ms < 1990; ms += 10) {
    while (ws.frames.length > ws.answered) {
      ws.answered += 1;
      ws.push({ type: 'guide', hint: 'hold_still', progress: 0 });
    }
    await env.clock.advance(10);
  }
  assert.equal(ws.frames.length, 8, 'at 4 fps: frames at 0, 250, … 1750 ms');
});

test('a frame that cannot be grabbed or does not fit is skipped', async () => {
  const env = fakeEnv();
  env.frame = () => null;
  const { ws } = await start('authenticate', {}, env);
  ws.push({ type: 'capture', maxFps: 5 });
  await env.clock.advance(1000);
  assert.equal(ws.frames.length, 0);
  env.frame = () => new Uint8Array([0xff, 0xd8]).buffer;
  await env.clock.advance(250);
  assert.equal(ws.frames.length, 1, 'slots were used but credit was not');
});

test('authenticate resolves facialId, payload and token only', async () => {
  const { env, outcome, ws, ui } = await start('authenticate', { locale: 'xx' });
  assert.deepEqual(ws.messages[0], { type: 'start', locale: 'en', idleTimeout: 27, replyTimeout: 40 });
  assert.equal(ui.screen, 'camera', 'no intro for authenticate');
  ws.push(CONSENT);
  assert.equal(ui.consent, null, 'consent is ignored outside enroll');
  ws.push({ type: 'result', facialId: 'f', payload: { a: 1 }, token: 't', timestamp: 'x' });
  await flush();
  assert.deepEqual(outcome.value, { facialId: 'f', payload: { a: 1 }, token: 't' });
  assert.equal(env.checks.length, 1);
});

test('declining the notice sends the decline and rejects TERMS_NOT_ACCEPTED', async () => {
  const { outcome, ws, ui, env } = await start('enroll', { enrollIntroTimeout: 0 });
  ws.push(CONSENT);
  ui.consent.answer(false);
  await flush();
  assert.deepEqual(ws.messages.at(-1), { type: 'consent', accept: false, version: 3, sha256: CONSENT.sha256 });
  assert.deepEqual(outcome, { state: 'rejected', value: 11 });
  assert.ok(env.streams[0].stopped && ui.closed && ws.closed);
});

test('termsTimeout is in minutes, as FACEIO documents it: 0.5 declines after 30 s and rejects 11', async () => {
  const { outcome, ws, env } = await start('enroll', { enrollIntroTimeout: 0, termsTimeout: 0.5 });
  ws.push(CONSENT);
  await env.clock.advance(29_000);
  assert.equal(outcome.state, 'pending');
  await env.clock.advance(1000);
  assert.equal(ws.messages.at(-1).accept, false);
  assert.deepEqual(outcome, { state: 'rejected', value: 11 });
});

test('userConsent skips the notice on the client side and is sent in start', async () => {
  const { ws } = await start('enroll', { userConsent: true, enrollIntroTimeout: 0 });
  assert.equal(ws.messages[0].userConsent, true);
});

test('a server error rejects with its code; an unknown code with PROCESSING_ERR', async () => {
  const a = await start('authenticate');
  a.ws.push({ type: 'error', code: 5, name: 'PAD_ATTACK', message: 'x' });
  await flush();
  assert.deepEqual(a.outcome, { state: 'rejected', value: 5 });
  assert.ok(a.ui.closed && a.ws.closed && a.env.streams[0].stopped);

  const b = await start('authenticate');
  b.ws.push({ type: 'error', code: 'boom' });
  await flush();
  assert.deepEqual(b.outcome, { state: 'rejected', value: 9 });
});

test('garbage and binary messages from the server are ignored', async () => {
  const { ws, outcome } = await start('authenticate');
  ws.push('{not json');
  ws.push('null');
  ws.onmessage({ data: new ArrayBuffer(4) });
  ws.push({ type: 'whatever' });
  await flush();
  assert.equal(outcome.state, 'pending');
});

test('the socket closing before a result rejects NETWORK_IO', async () => {
  const { ws, outcome, ui } = await start('authenticate');
  ws.push({ type: 'capture' });
  ws.drop();
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 7 });
  assert.ok(ui.closed);
});

test('a socket that never opens rejects NETWORK_IO', async () => {
  const env = fakeEnv();
  const fio = new (createFaceIO(env))('p');
  const outcome = track(fio.authenticate(QUIET));
  await flush();
  env.socket.onerror();
  env.socket.onclose?.();
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 7 });
});

test('a refused check rejects with its code and never opens the socket', async () => {
  const env = fakeEnv();
  env.checkCode = 17;
  const fio = new (createFaceIO(env))('p');
  const outcome = track(fio.enroll(QUIET));
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 17 });
  assert.equal(env.sockets.length, 0);
  assert.ok(env.ui.closed && env.streams[0].stopped);
});

test('camera denied: camera ok:false, reject PERMISSION_REFUSED', async () => {
  const env = fakeEnv();
  let deny;
  env.camera = () => new Promise((_, reject) => { deny = reject; });
  const { ws, outcome, ui } = await start('authenticate', { permissionTimeout: 5 }, env);
  deny('denied');
  await flush();
  assert.deepEqual(ws.messages.at(-1), { type: 'camera', ok: false, error: 'denied' });
  assert.deepEqual(outcome, { state: 'rejected', value: 1 });
  assert.ok(ui.closed && ws.closed);
});

test('camera request gets permissionTimeout and "unavailable" is reported as such', async () => {
  const env = fakeEnv();
  let asked;
  env.camera = (ms) => { asked = ms; return Promise.reject('unavailable'); };
  const { outcome } = await start('authenticate', { permissionTimeout: 5 }, env);
  assert.equal(asked, 5000);
  assert.deepEqual(outcome, { state: 'rejected', value: 1 });
});

test('a camera granted after the end is turned off', async () => {
  const env = fakeEnv();
  let grant;
  env.camera = () => new Promise((resolve) => { grant = resolve; });
  const { ws, outcome } = await start('authenticate', {}, env);
  ws.push({ type: 'error', code: 10 });
  const stream = fakeStream();
  grant(stream);
  await flush();
  assert.equal(outcome.value, 10);
  assert.ok(stream.stopped);
});

test('replyTimeout sends abort and rejects TIMEOUT', async () => {
  const { env, ws, outcome } = await start('authenticate', { replyTimeout: 10 });
  ws.push({ type: 'capture' });
  await env.clock.advance(9_999);
  assert.equal(outcome.state, 'pending');
  await env.clock.advance(1);
  assert.deepEqual(ws.messages.at(-1), { type: 'abort' });
  assert.deepEqual(outcome, { state: 'rejected', value: 14 });
  assert.ok(ws.closed && env.streams[0].stopped);
});

test('replyTimeout restarts at capture, when the server starts its clock', async () => {
  const { env, ws, outcome } = await start('authenticate', { replyTimeout: 10 });
  await env.clock.advance(6_000);
  ws.push({ type: 'capture' });
  await env.clock.advance(9_000);
  assert.equal(outcome.state, 'pending');
  await env.clock.advance(1_000);
  assert.deepEqual(outcome, { state: 'rejected', value: 14 });
});

test('replyTimeout guards a server that never sends capture', async () => {
  const { env, outcome } = await start('enroll', { replyTimeout: 10, enrollIntroTimeout: 0 });
  await env.clock.advance(10_000);
  assert.deepEqual(outcome, { state: 'rejected', value: 14 });
});

test('the user closing the widget sends abort and rejects SESSION_EXPIRED', async () => {
  const { ws, ui, outcome } = await start('authenticate');
  ui.options.onAbort();
  await flush();
  assert.deepEqual(ws.messages.at(-1), { type: 'abort' });
  assert.deepEqual(outcome, { state: 'rejected', value: 13 });
});

test('PIN: frames pause, the PIN is sent, then the result', async () => {
  const { env, ws, ui, outcome } = await start('authenticate');
  ws.push({ type: 'capture', maxFps: 10 });
  await env.clock.advance(0);
  ws.push({ type: 'pin', reason: 'authenticate', minLength: 6 });
  assert.equal(ui.screen, 'pin');
  assert.deepEqual(ui.pin.request, { reason: 'authenticate', minLength: 6 });
  const before = ws.frames.length;
  ws.push({ type: 'guide', hint: 'ok', progress: 1 });
  await env.clock.advance(2000);
  assert.equal(ws.frames.length, before, 'no frame while the PIN screen is shown');
  ui.pin.submit('123456');
  assert.deepEqual(ws.messages.at(-1), { type: 'pin', pin: '123456' });
  assert.equal(ui.screen, 'camera');
  ws.push({ type: 'pin', reason: 'retry' });
  assert.deepEqual(ui.pin.request, { reason: 'retry', minLength: 4 });
  ui.pin.submit('654321');
  ws.push({ type: 'result', facialId: 'f', payload: null, token: 't' });
  await flush();
  assert.equal(outcome.state, 'resolved');
});

test('a second operation while one runs rejects 20 without contacting the server', async () => {
  const { env, fio, outcome, ws } = await start('enroll');
  const second = track(fio.authenticate(QUIET));
  const third = track(fio.record(QUIET));
  await flush();
  assert.deepEqual(second, { state: 'rejected', value: 20 });
  assert.deepEqual(third, { state: 'rejected', value: 20 });
  assert.equal(env.checks.length, 1);
  assert.equal(env.sockets.length, 1);
  assert.equal(outcome.state, 'pending', 'the first one goes on');

  ws.push({ type: 'error', code: 2 });
  await flush();
  const next = track(fio.auth(QUIET));
  await flush();
  assert.equal(next.state, 'pending', 'a new operation may run once the previous one settled');
  assert.equal(env.checks.length, 2);
});

test('restartSession ends a running operation (13) and frees the instance', async () => {
  const { env, fio, outcome, ws } = await start('authenticate');
  assert.equal(fio.restartSession(), true);
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 13 });
  assert.deepEqual(ws.messages.at(-1), { type: 'abort' });
  const next = track(fio.identify(QUIET));
  await flush();
  assert.equal(next.state, 'pending');
  assert.equal(env.sockets.length, 2);
  assert.equal(fio.restartSession(), true);
});

test('an oversized payload rejects PROCESSING_ERR before anything starts', async () => {
  const env = fakeEnv();
  const fio = new (createFaceIO(env))('p');
  const outcome = track(fio.enrol({ payload: 'x'.repeat(16 * 1024) }));
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 9 });
  assert.equal(env.checks.length + env.sockets.length + env.uis.length, 0);
  const again = track(fio.register({ payload: 'small' }));
  await flush();
  assert.equal(again.state, 'pending', 'the instance is not left busy');
});

test('no document body: UI_NOT_READY', async () => {
  const env = fakeEnv();
  env.createUI = () => { throw new Error('no body'); };
  const fio = new (createFaceIO(env))('p');
  const outcome = track(fio.authenticate(QUIET));
  await flush();
  assert.deepEqual(outcome, { state: 'rejected', value: 12 });
  assert.equal(env.checks.length, 0);
});

test('aliases, default host and fetchAllErrorCodes', () => {
  const env = fakeEnv();
  const FaceIO = createFaceIO(env);
  const fio = new FaceIO('p');
  assert.equal(fio.host, 'https://likeness.test');
  for (const name of ['enroll', 'enrol', 'register', 'record', 'authenticate', 'auth', 'recognize', 'identify']) {
    assert.equal(typeof fio[name], 'function', name);
  }
  assert.equal(fio.fetchAllErrorCodes().SESSION_IN_PROGRESS, 20);
  assert.equal(fio.fetchAllErrorCodes().FORBIDDDEN_ORIGIN, 17);
});
