import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAnswerCode, retryAfterSeconds, runCheck } from '../src/check.js';

test('checkAnswerCode: fioCode wins, else the status decides', () => {
  assert.equal(checkAnswerCode(200, { ok: true }), 0);
  assert.equal(checkAnswerCode(403, { error: { code: 'forbidden' }, fioCode: 17 }), 17);
  assert.equal(checkAnswerCode(403, { fioCode: 16 }), 16);
  assert.equal(checkAnswerCode(404, { fioCode: 10 }), 10);
  assert.equal(checkAnswerCode(429, null), 15);
  assert.equal(checkAnswerCode(404, null), 10);
  assert.equal(checkAnswerCode(403, 'text'), 17);
  assert.equal(checkAnswerCode(500, null), 9);
});

test('runCheck', async () => {
  const calls = [];
  const fetchOK = async (url, init) => {
    calls.push([url, init]);
    return { status: 200, json: async () => ({ ok: true }) };
  };
  await runCheck(fetchOK, 'https://x.test/widget/check?publicId=p&op=enroll');
  assert.equal(calls[0][1].credentials, 'omit');

  const refused = async () => ({ status: 403, json: async () => ({ error: { code: 'forbidden' }, fioCode: 17, retryAfter: 5 }) });
  await assert.rejects(runCheck(refused, 'u'), (e) => e.code === 17 && e.retryAfter === 0, 'a wait is only read for 15');
  const html = async () => ({ status: 502, json: async () => { throw new SyntaxError('not json'); } });
  await assert.rejects(runCheck(html, 'u'), (e) => e.code === 9 && e.retryAfter === 0);
  const offline = async () => { throw new TypeError('Failed to fetch'); };
  await assert.rejects(runCheck(offline, 'u'), (e) => e.code === 7 && e.retryAfter === 0);
  const busy = async () => ({ status: 429, headers: new Headers({ 'Retry-After': '4' }), json: async () => ({ fioCode: 15, retryAfter: 3 }) });
  await assert.rejects(runCheck(busy, 'u'), (e) => e.code === 15 && e.retryAfter === 3);
  const cooling = async () => ({ status: 429, headers: new Headers(), json: async () => ({ fioCode: 15 }) });
  await assert.rejects(runCheck(cooling, 'u'), (e) => e.code === 15 && e.retryAfter === 0, 'no hint: no number invented');
});

test('retryAfterSeconds: the body, else the header; whole seconds, bounded; nothing usable is 0', () => {
  const res = (h) => ({ headers: new Headers(h) });
  for (const [r, body, want] of [
    [res({}), { retryAfter: 3 }, 3],
    [res({ 'Retry-After': '7' }), null, 7],
    [res({ 'Retry-After': '7' }), { retryAfter: 2 }, 2],
    [res({}), { retryAfter: 2.2 }, 3],
    [res({}), { retryAfter: 1e9 }, 3600],
    [res({ 'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT' }), null, 0],
    [res({}), { retryAfter: -1 }, 0],
    [res({}), { retryAfter: '5' }, 0],
    [res({}), null, 0],
    [{}, null, 0],
  ]) {
    assert.equal(retryAfterSeconds(r, body), want, `${JSON.stringify(body)} ${JSON.stringify([...(r.headers ?? [])])}`);
  }
});
