import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PAYLOAD_BYTES, normalizeParams, payloadBytes, startMessage } from '../src/params.js';

test('defaults are FACEIO\'s', () => {
  const o = normalizeParams('enroll', undefined, 'fr-CA');
  assert.deepEqual(o, {
    op: 'enroll', locale: 'fr', userConsent: false, permissionTimeout: 27, termsTimeout: 600,
    idleTimeout: 27, replyTimeout: 40, enrollIntroTimeout: 2,
  });
  const a = normalizeParams('authenticate', { locale: 'de', payload: { x: 1 }, userConsent: true }, 'fr');
  assert.equal(a.locale, 'en');
  assert.equal(a.payload, undefined, 'authenticate sends no payload');
  assert.equal(a.userConsent, false);
  assert.equal(a.enrollIntroTimeout, 0);
});

test('bad timeouts fall back to defaults; enrollIntroTimeout may be 0', () => {
  const o = normalizeParams('enroll', { replyTimeout: 0, idleTimeout: -1, permissionTimeout: 'x', termsTimeout: 5, enrollIntroTimeout: 0 }, 'en');
  assert.equal(o.replyTimeout, 40);
  assert.equal(o.idleTimeout, 27);
  assert.equal(o.permissionTimeout, 27);
  assert.equal(o.termsTimeout, 5);
  assert.equal(o.enrollIntroTimeout, 0);
});

test('payloads over 16 KiB of UTF-8 JSON are refused with PROCESSING_ERR', () => {
  const fits = 'a'.repeat(MAX_PAYLOAD_BYTES - 2); // plus two quotes
  assert.equal(payloadBytes(fits), MAX_PAYLOAD_BYTES);
  assert.equal(normalizeParams('enroll', { payload: fits }, 'en').payload, fits);
  assert.throws(() => normalizeParams('enroll', { payload: fits + 'a' }, 'en'), (e) => e === 9);
  const accents = 'é'.repeat(MAX_PAYLOAD_BYTES / 2); // 2 bytes each in UTF-8
  assert.throws(() => normalizeParams('enroll', { payload: accents }, 'en'), (e) => e === 9);
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => normalizeParams('enroll', { payload: cyclic }, 'en'), (e) => e === 9);
  assert.doesNotThrow(() => normalizeParams('authenticate', { payload: fits + 'a' }, 'en'), 'authenticate ignores payload');
});

test('startMessage', () => {
  const e = normalizeParams('enroll', { payload: { id: 7 }, userConsent: true, idleTimeout: 10 }, 'en');
  assert.deepEqual(startMessage(e), { type: 'start', locale: 'en', payload: { id: 7 }, userConsent: true, idleTimeout: 10, replyTimeout: 40 });
  assert.equal(startMessage(normalizeParams('enroll', {}, 'en')).payload, null);
  assert.deepEqual(startMessage(normalizeParams('authenticate', {}, 'fr')), { type: 'start', locale: 'fr', idleTimeout: 27, replyTimeout: 40 });
  // externalId / facialIdHint (1:1) reach the server on authenticate only.
  assert.deepEqual(startMessage(normalizeParams('authenticate', { externalId: 'user-7' }, 'en')),
    { type: 'start', locale: 'en', externalId: 'user-7', idleTimeout: 27, replyTimeout: 40 });
  assert.equal(startMessage(normalizeParams('authenticate', { facialIdHint: 'f-1' }, 'en')).facialIdHint, 'f-1');
  assert.equal(startMessage(normalizeParams('enroll', { externalId: 'user-7' }, 'en')).externalId, undefined);
  assert.equal(startMessage(normalizeParams('authenticate', { externalId: 42 }, 'en')).externalId, undefined);
});
