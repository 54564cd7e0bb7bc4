import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeLink } from '../src/ui.js';

test('safeLink lets only http(s) URLs through to the notice link', () => {
  assert.equal(safeLink('https://site.test/privacy#x'), 'https://site.test/privacy#x');
  assert.equal(safeLink('http://site.test'), 'http://site.test/');
  for (const bad of ['javascript:alert(1)', 'data:text/html,x', '/relative', '', null, undefined, 42]) {
    assert.equal(safeLink(bad), null, String(bad));
  }
});
