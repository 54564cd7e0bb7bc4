/**
 * FACEIO (fio.js) error codes. Promises of the widget reject with these plain
 * numbers, exactly as fio.js does, so sites written for FACEIO keep working.
 * The names keep FACEIO's spelling, including FORBIDDDEN.
 * @module errors
 */

/** @type {Readonly<Record<string, number>>} */
export const ERROR_CODES = Object.freeze({
  PERMISSION_REFUSED: 1,
  NO_FACES_DETECTED: 2,
  UNRECOGNIZED_FACE: 3,
  MANY_FACES: 4,
  PAD_ATTACK: 5,
  FACE_MISMATCH: 6,
  NETWORK_IO: 7,
  WRONG_PIN_CODE: 8,
  PROCESSING_ERR: 9,
  UNAUTHORIZED: 10,
  TERMS_NOT_ACCEPTED: 11,
  UI_NOT_READY: 12,
  SESSION_EXPIRED: 13,
  TIMEOUT: 14,
  TOO_MANY_REQUESTS: 15,
  EMPTY_ORIGIN: 16,
  FORBIDDDEN_ORIGIN: 17,
  FORBIDDDEN_COUNTRY: 18,
  UNIQUE_PIN_REQUIRED: 19,
  SESSION_IN_PROGRESS: 20,
  FACE_DUPLICATION: 21,
  MINORS_NOT_ALLOWED: 22,
});

/**
 * Returns a known FACEIO code for value, or PROCESSING_ERR for anything else
 * (a server bug must still reject with a documented number).
 * @param {unknown} value
 * @returns {number}
 */
export function toErrorCode(value) {
  return Object.values(ERROR_CODES).includes(/** @type {number} */ (value))
    ? /** @type {number} */ (value)
    : ERROR_CODES.PROCESSING_ERR;
}

/**
 * Errors after which trying again, in the same dialog, can help: the face,
 * the light, the connection or the PIN may be better the next time.
 */
export const RETRYABLE = Object.freeze([
  ERROR_CODES.PERMISSION_REFUSED, ERROR_CODES.NO_FACES_DETECTED, ERROR_CODES.UNRECOGNIZED_FACE,
  ERROR_CODES.MANY_FACES, ERROR_CODES.PAD_ATTACK, ERROR_CODES.FACE_MISMATCH, ERROR_CODES.NETWORK_IO,
  ERROR_CODES.WRONG_PIN_CODE, ERROR_CODES.PROCESSING_ERR, ERROR_CODES.TIMEOUT, ERROR_CODES.UNIQUE_PIN_REQUIRED,
]);

/**
 * The key of the locale tables that explains an error code to the visitor
 * and says what to do next (codes sharing a cause share a message).
 * @param {number} code a FACEIO code
 * @returns {string}
 */
export function errorMessageKey(code) {
  switch (code) {
    case ERROR_CODES.UI_NOT_READY:
      return 'err_9';
    case ERROR_CODES.EMPTY_ORIGIN:
    case ERROR_CODES.FORBIDDDEN_ORIGIN:
      return 'err_10';
    default:
      return Object.values(ERROR_CODES).includes(code) ? 'err_' + code : 'err_9';
  }
}
