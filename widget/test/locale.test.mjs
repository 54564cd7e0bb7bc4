import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, errorMessageKey } from '../src/errors.js';
import { HINTS, STRINGS, direction, resolveLocale, translator } from '../src/locale.js';

test('resolveLocale', () => {
  assert.equal(resolveLocale('auto', 'fr-FR'), 'fr');
  assert.equal(resolveLocale(undefined, 'fr'), 'fr');
  assert.equal(resolveLocale('auto', undefined), 'en');
  assert.equal(resolveLocale('fr-CA', 'en-US'), 'fr');
  assert.equal(resolveLocale('FR_be', 'en-US'), 'fr');
  assert.equal(resolveLocale('de', 'fr-FR'), 'de');
  assert.equal(resolveLocale('xx', 'fr-FR'), 'en');
  assert.equal(resolveLocale('auto', 'ar-EG'), 'ar');
  assert.equal(resolveLocale('ja-JP', 'en'), 'ja');
  assert.equal(resolveLocale('en-GB', 'fr-FR'), 'en');
  assert.equal(resolveLocale('auto', 'pt-BR'), 'pt');
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

test('the issue\'s languages are all there, each its own translation', () => {
  assert.deepEqual(Object.keys(STRINGS).sort(), ['ar', 'de', 'en', 'es', 'fr', 'it', 'ja', 'nl', 'pl', 'pt', 'tr']);
  for (const [locale, table] of Object.entries(STRINGS)) {
    if (locale === 'en') continue;
    for (const key of ['cancel', 'err_1', 'done_authenticate', 'try_again']) {
      assert.notEqual(table[key], STRINGS.en[key], `${locale}.${key} is not translated`);
    }
    assert.match(table.pin_invalid, /\{n\}/, `${locale}.pin_invalid keeps {n}`);
  }
  assert.equal(direction('ar'), 'rtl');
  assert.equal(direction('fr'), 'ltr');
});

test('every FACEIO error code has a message in English, hence in every locale', () => {
  for (const [name, code] of Object.entries(ERROR_CODES)) {
    const key = errorMessageKey(code);
    assert.ok(STRINGS.en[key], `${name} (${code}) → ${key}`);
  }
  assert.equal(errorMessageKey(99), 'err_9', 'an unknown code gets the generic message');
});

test('a missing string falls back to English', () => {
  const de = /** @type {Record<string, string>} */ (STRINGS.de);
  const saved = de.close;
  delete de.close;
  try {
    assert.equal(translator('de')('close'), STRINGS.en.close);
  } finally {
    de.close = saved;
  }
});

test('translator fills {n} and falls back to the key', () => {
  const fr = translator('fr');
  assert.equal(fr('cancel'), 'Annuler');
  assert.match(fr('pin_invalid', { n: 6 }), /\b6\b/);
  assert.equal(translator('en')('nope'), 'nope');
});
