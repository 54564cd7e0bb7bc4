/**
 * Validation and defaults of the enroll()/authenticate() parameters.
 * @module params
 */

import { ERROR_CODES } from './errors.js';
import { resolveLocale } from './locale.js';

/** Largest accepted enrollment payload: its JSON text in UTF-8, in bytes. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

/** FACEIO's defaults, in seconds. */
export const DEFAULT_TIMEOUTS = Object.freeze({
  permissionTimeout: 27,
  termsTimeout: 600,
  idleTimeout: 27,
  replyTimeout: 40,
  enrollIntroTimeout: 2,
});

/**
 * @typedef {object} OperationOptions
 * @property {'enroll'|'authenticate'} op
 * @property {string} locale a supported locale
 * @property {unknown} [payload] enroll only
 * @property {boolean} userConsent enroll only
 * @property {number} permissionTimeout seconds
 * @property {number} termsTimeout seconds
 * @property {number} idleTimeout seconds
 * @property {number} replyTimeout seconds
 * @property {number} enrollIntroTimeout seconds
 * @property {string} [externalId] authenticate only: the site's identifier of the person (1:1)
 * @property {string} [facialIdHint] authenticate only: the Facial ID the site expects (1:1)
 */

/**
 * A positive finite number of seconds (or 0 when allowZero), or the fallback.
 * @param {unknown} value
 * @param {number} fallback
 * @param {boolean} [allowZero] whether 0 is accepted (timeouts must be positive)
 * @returns {number}
 */
function seconds(value, fallback, allowZero = false) {
  const ok = typeof value === 'number' && Number.isFinite(value) && (value > 0 || (allowZero && value === 0));
  return ok ? value : fallback;
}

/**
 * The UTF-8 size of the payload's JSON text.
 * @param {unknown} payload
 * @returns {number}
 * @throws {number} PROCESSING_ERR when the payload cannot be serialized
 */
export function payloadBytes(payload) {
  let json;
  try {
    json = JSON.stringify(payload);
  } catch {
    throw ERROR_CODES.PROCESSING_ERR;
  }
  return json === undefined ? 0 : new TextEncoder().encode(json).length;
}

/**
 * Applies defaults and validates the parameters of one operation.
 * @param {'enroll'|'authenticate'} op
 * @param {Record<string, unknown>|undefined} params as passed by the site
 * @param {string|undefined} browserLanguage navigator.language
 * @returns {OperationOptions}
 * @throws {number} PROCESSING_ERR for a payload over MAX_PAYLOAD_BYTES or not serializable
 */
export function normalizeParams(op, params, browserLanguage) {
  const p = params || {};
  const enroll = op === 'enroll';
  if (enroll && payloadBytes(p.payload) > MAX_PAYLOAD_BYTES) {
    throw ERROR_CODES.PROCESSING_ERR;
  }
  /** @type {OperationOptions} */
  const options = {
    op,
    locale: resolveLocale(/** @type {string|undefined} */ (p.locale), browserLanguage),
    userConsent: enroll && p.userConsent === true,
    permissionTimeout: seconds(p.permissionTimeout, DEFAULT_TIMEOUTS.permissionTimeout),
    termsTimeout: seconds(p.termsTimeout, DEFAULT_TIMEOUTS.termsTimeout),
    idleTimeout: seconds(p.idleTimeout, DEFAULT_TIMEOUTS.idleTimeout),
    replyTimeout: seconds(p.replyTimeout, DEFAULT_TIMEOUTS.replyTimeout),
    enrollIntroTimeout: enroll ? seconds(p.enrollIntroTimeout, DEFAULT_TIMEOUTS.enrollIntroTimeout, true) : 0,
  };
  if (enroll && p.payload !== undefined) options.payload = p.payload;
  // Likeness extension of fio.js: the site names who should be logging in,
  // which turns identification among every enrolled face into one 1:1
  // comparison (docs/protocol.md).
  if (!enroll && typeof p.externalId === 'string' && p.externalId !== '') options.externalId = p.externalId.slice(0, 256);
  if (!enroll && typeof p.facialIdHint === 'string' && p.facialIdHint !== '') options.facialIdHint = p.facialIdHint.slice(0, 64);
  return options;
}

/**
 * The first message of the protocol for these options.
 * @param {OperationOptions} o
 * @returns {object}
 */
export function startMessage(o) {
  const enrollFields = o.op === 'enroll' ? { payload: o.payload ?? null, userConsent: o.userConsent } : {};
  const hint = {};
  if (o.externalId) hint.externalId = o.externalId;
  if (o.facialIdHint) hint.facialIdHint = o.facialIdHint;
  return { type: 'start', locale: o.locale, ...enrollFields, ...hint, idleTimeout: o.idleTimeout, replyTimeout: o.replyTimeout };
}
