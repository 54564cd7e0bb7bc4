/**
 * Locale resolution and the table of every user-visible string of the widget.
 * Keys include the guidance hints of the streaming protocol.
 * @module locale
 */

import ar from './locales/ar.js';
import de from './locales/de.js';
import en from './locales/en.js';
import es from './locales/es.js';
import fr from './locales/fr.js';
import it from './locales/it.js';
import ja from './locales/ja.js';
import nl from './locales/nl.js';
import pl from './locales/pl.js';
import pt from './locales/pt.js';
import tr from './locales/tr.js';

/** @typedef {Record<string, string>} Strings */

/**
 * Every supported locale's table (widget/src/locales/*.js). English is the
 * reference: a key missing elsewhere falls back to it, and a unit test fails
 * when a table lacks one of its keys.
 * @type {Readonly<Record<string, Strings>>}
 */
export const STRINGS = Object.freeze({ en, fr, de, es, it, pt, nl, pl, tr, ar, ja });

/** Locales written right to left. */
export const RTL_LOCALES = Object.freeze(['ar']);

/** The guidance hints of the streaming protocol (keys of STRINGS). */
export const HINTS = Object.freeze([
  'no_face', 'many_faces', 'move_closer', 'move_back', 'center_face', 'look_at_camera', 'hold_still',
  'too_dark', 'too_blurry', 'blink', 'turn_left', 'turn_right', 'processing', 'ok',
]);

/** The locale used when the requested one is not supported. */
export const DEFAULT_LOCALE = 'en';

/**
 * Resolves the `locale` parameter to a supported locale.
 * 'auto' (or nothing) uses the browser language; a region is ignored
 * ('fr-CA' → 'fr'); anything unsupported falls back to 'en'.
 * @param {string|undefined} requested the `locale` parameter
 * @param {string|undefined} browserLanguage navigator.language
 * @returns {string}
 */
export function resolveLocale(requested, browserLanguage) {
  const wanted = !requested || requested === 'auto' ? browserLanguage : requested;
  const primary = String(wanted || '').toLowerCase().split(/[-_]/)[0];
  return Object.prototype.hasOwnProperty.call(STRINGS, primary) ? primary : DEFAULT_LOCALE;
}

/**
 * The writing direction of a supported locale, for the dialog's dir attribute.
 * @param {string} locale
 * @returns {'rtl'|'ltr'}
 */
export function direction(locale) {
  return RTL_LOCALES.includes(locale) ? 'rtl' : 'ltr';
}

/**
 * Returns a translator for a supported locale. Unknown keys fall back to
 * English, then to the key itself; `{n}` is replaced by vars.n.
 * @param {string} locale a value returned by resolveLocale
 * @returns {(key: string, vars?: {n?: number}) => string}
 */
export function translator(locale) {
  const table = STRINGS[locale] || STRINGS[DEFAULT_LOCALE];
  return (key, vars = {}) => {
    const text = table[key] ?? STRINGS[DEFAULT_LOCALE][key] ?? key;
    return text.replace('{n}', String(vars.n ?? ''));
  };
}
