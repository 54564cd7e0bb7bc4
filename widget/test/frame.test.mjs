// The framing check that keeps the consent dialog out of other sites' frames.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { framedByOtherOrigin } from '../src/frame.js';
import { createFaceIO } from '../src/faceio.js';
import { fakeEnv, flush, track } from '../testkit/fakes.mjs';

/** A window stand-in: origin, parent (or none), and whether reading its location throws. */
function win(origin, parent, { opaque = false, ancestors } = {}) {
  const w = { parent: null, top: null, self: null };
  w.self = w;
  w.parent = parent || w;
  w.top = parent ? parent.top : w;
  Object.defineProperty(w, 'location', {
    get() {
      if (opaque) throw new DOMException('Blocked a frame', 'SecurityError');
      return { origin, ancestorOrigins: ancestors };
    },
  });
  return w;
}

test('a top-level page is not framed', () => {
  assert.equal(framedByOtherOrigin(win('https://shop.test')), false);
});

test('a frame inside a page of its own origin is fine', () => {
  const top = win('https://shop.test');
  assert.equal(framedByOtherOrigin(win('https://shop.test', top)), false);
  assert.equal(framedByOtherOrigin(win('https://shop.test', top, { ancestors: ['https://shop.test'] })), false);
});

test('a frame inside another origin is refused', () => {
  const evil = win('https://evil.test', undefined, { opaque: true }); // cross-origin: reading throws
  assert.equal(framedByOtherOrigin(win('https://shop.test', evil)), true);
  // Where the browser tells the ancestors, they are believed first.
  const top = win('https://shop.test');
  assert.equal(framedByOtherOrigin(win('https://shop.test', top, { ancestors: ['https://evil.test'] })), true);
  // Same-origin top, another origin in between.
  const middle = win('https://evil.test', top, { opaque: true });
  assert.equal(framedByOtherOrigin(win('https://shop.test', middle)), true);
  // A readable parent of another origin (e.g. document.domain games).
  const other = win('https://other.test');
  assert.equal(framedByOtherOrigin(win('https://shop.test', other)), true);
});

test('the consent dialog is not drawn in a frame of another origin', async () => {
  const env = fakeEnv();
  env.framed = () => true;
  const FaceIO = createFaceIO(env);
  const outcome = track(new FaceIO('pub_1', { host: 'https://likeness.test/' }).enroll({ enrollIntroTimeout: 0 }));
  await flush();
  env.socket.open();
  await flush();
  env.socket.push({ type: 'consent', version: 1, sha256: 'ab'.repeat(32), title: 'T', text: 'x' });
  await flush();
  assert.equal(env.ui.consent, null, 'no consent dialog drawn');
  assert.ok(!env.ui.screens.includes('consent'));
  assert.equal(outcome.state, 'rejected');
  assert.equal(outcome.value, 17); // FORBIDDEN_ORIGIN
  assert.ok(!env.socket.messages.some((m) => m.type === 'consent'), 'no consent sent');
});

test('the privacy purpose reaches the check and socket URLs', async () => {
  const env = fakeEnv();
  const FaceIO = createFaceIO(env);
  track(new FaceIO('pub_1', { host: 'https://likeness.test', purpose: 'privacy' }).authenticate());
  await flush();
  assert.deepEqual(env.checks, ['https://likeness.test/widget/check?publicId=pub_1&op=authenticate&purpose=privacy']);
  assert.equal(env.socket.url, 'wss://likeness.test/widget/ws?publicId=pub_1&op=authenticate&purpose=privacy');
  track(new FaceIO('pub_1', { host: 'https://likeness.test', purpose: 'anything' }).authenticate());
  await flush();
  assert.equal(env.checks.at(-1), 'https://likeness.test/widget/check?publicId=pub_1&op=authenticate');
});
