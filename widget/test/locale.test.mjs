import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HINTS, STRINGS, resolveLocale, translator } from '../src/locale.js';

test('resolveLocale', () => {
  assert.equal(resolveLocale('auto', 'fr-FR'), 'fr');
  assert.equal(resolveLocale(undefined, 'fr'), 'fr');
  assert.equal(resolveLocale('auto', undefined), 'en');
  assert.equal(resolveLocale('fr-CA', 'en-US'), 'fr');
  assert.equal(resolveLocale('FR_be', 'en-US'), 'fr');
  assert.equal(resolveLocale('de', 'fr-FR'), 'en');
  assert.equal(resolveLocale('en-GB', 'fr-FR'), 'en');
  assert.equal(resolveLocale('auto', 'pt-BR'), 'en');
  assert.equal(resolveLocale('constructor', 'fr'), 'en', 'no prototype keys');
});

test('every locale has every string, including every guidance hint', () => {
  assert.deepEqual(HINTS, ['no_face', 'many_faces', 'move_closer', 'move_back', 'center_face', 'look_at_camera',
    'hold_still', 'too_dark', 'too_blurry', 'blink', 'turn_left', 'turn_right', 'processing', 'ok']);
  const keys = Object.keys(STRINGS.en).sort();
  for (const hint of HINTS) assert.ok(keys.includes(hint), hint);
  for (const [locale, table] of Object.entries(STRINGS)) {
    assert.deepEqual(Object.keys(table).sort(), keys, locale);
    for (const [k, v] of Object.entries(table)) assert.ok(v.trim(), `${locale}.${k} is empty`);
  }
  assert.notEqual(STRINGS.fr.no_face, STRINGS.en.no_face);
});

test('translator fills {n} and falls back to the key', () => {
  const fr = translator('fr');
  assert.equal(fr('cancel'), 'Annuler');
  assert.match(fr('pin_invalid', { n: 6 }), /\b6\b/);
  assert.equal(translator('en')('nope'), 'nope');
});
