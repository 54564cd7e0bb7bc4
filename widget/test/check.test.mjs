import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAnswerCode, runCheck } from '../src/check.js';

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

  const refused = async () => ({ status: 403, json: async () => ({ error: { code: 'forbidden' }, fioCode: 17 }) });
  await assert.rejects(runCheck(refused, 'u'), (e) => e === 17);
  const html = async () => ({ status: 502, json: async () => { throw new SyntaxError('not json'); } });
  await assert.rejects(runCheck(html, 'u'), (e) => e === 9);
  const offline = async () => { throw new TypeError('Failed to fetch'); };
  await assert.rejects(runCheck(offline, 'u'), (e) => e === 7);
});
