import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseURL, checkURL, scriptOrigin, socketURL, wsURL } from '../src/url.js';

test('wsURL maps http to ws and https to wss', () => {
  assert.equal(wsURL('http://localhost:8080'), 'ws://localhost:8080');
  assert.equal(wsURL('https://auth.example.com/'), 'wss://auth.example.com');
  assert.equal(wsURL('HTTPS://auth.example.com/base//'), 'wss://auth.example.com/base');
  assert.equal(wsURL('wss://already.example'), 'wss://already.example');
});

test('endpoint URLs carry the encoded public ID and the operation', () => {
  assert.equal(baseURL('https://x.test///'), 'https://x.test');
  assert.equal(checkURL('https://x.test/', 'a b&c', 'enroll'), 'https://x.test/widget/check?publicId=a%20b%26c&op=enroll');
  assert.equal(socketURL('http://127.0.0.1:9000', 'pub_1', 'authenticate'),
    'ws://127.0.0.1:9000/widget/ws?publicId=pub_1&op=authenticate');
  assert.equal(socketURL('https://x.test/likeness/', 'p', 'enroll'), 'wss://x.test/likeness/widget/ws?publicId=p&op=enroll');
});

test('scriptOrigin uses the script URL, else the fallback', () => {
  assert.equal(scriptOrigin('https://cdn.site.test:8443/path/fio.js?v=1', 'https://page.test'), 'https://cdn.site.test:8443');
  assert.equal(scriptOrigin(undefined, 'https://page.test'), 'https://page.test');
  assert.equal(scriptOrigin('', 'https://page.test'), 'https://page.test');
});
