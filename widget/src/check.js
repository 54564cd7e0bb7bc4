/**
 * The pre-flight check. A browser cannot read the HTTP status of a refused
 * WebSocket upgrade, so the widget first asks GET /widget/check, whose
 * answer carries the FACEIO code of a refusal.
 * @module check
 */

import { ERROR_CODES } from './errors.js';

/** Codes for refusals whose body carries no fioCode, by HTTP status. */
const STATUS_CODES = Object.freeze({
  401: ERROR_CODES.UNAUTHORIZED,
  403: ERROR_CODES.FORBIDDDEN_ORIGIN,
  404: ERROR_CODES.UNAUTHORIZED,
  429: ERROR_CODES.TOO_MANY_REQUESTS,
  503: ERROR_CODES.TOO_MANY_REQUESTS,
});

/**
 * The FACEIO code of a check answer, or 0 when the operation may go on.
 * A `fioCode` in the body wins; otherwise a 2xx is fine and a refusal is
 * mapped from its status (PROCESSING_ERR for an unexpected one).
 * @param {number} status HTTP status
 * @param {unknown} body the parsed JSON body, or null
 * @returns {number}
 */
export function checkAnswerCode(status, body) {
  const fioCode = body && typeof body === 'object' ? /** @type {{fioCode?: unknown}} */ (body).fioCode : undefined;
  if (typeof fioCode === 'number' && fioCode > 0) return fioCode;
  if (status >= 200 && status < 300) return 0;
  return STATUS_CODES[/** @type {keyof STATUS_CODES} */ (status)] ?? ERROR_CODES.PROCESSING_ERR;
}

/**
 * A refused check: its FACEIO code, and the seconds the server asked the
 * visitor to wait before trying again (0 when it said nothing).
 * @typedef {{code: number, retryAfter: number}} Refusal
 */

/** The longest wait the widget repeats to the visitor, in seconds. */
const MAX_RETRY_AFTER = 3600;

/**
 * The seconds a busy server asked to wait: `retryAfter` in the body, else
 * the Retry-After header in seconds; 0 when absent or unusable.
 * @param {{headers?: {get(name: string): string | null}}} res
 * @param {unknown} body
 * @returns {number}
 */
export function retryAfterSeconds(res, body) {
  const fromBody = body && typeof body === 'object' ? /** @type {{retryAfter?: unknown}} */ (body).retryAfter : undefined;
  const raw = typeof fromBody === 'number' ? fromBody : Number(res.headers?.get('Retry-After') ?? NaN);
  return Number.isFinite(raw) && raw > 0 ? Math.min(Math.ceil(raw), MAX_RETRY_AFTER) : 0;
}

/**
 * Runs the check with fetch (no credentials). Resolves when the operation may
 * go on; rejects with a Refusal otherwise (NETWORK_IO when the server cannot
 * be reached).
 * @param {typeof fetch} fetchFn
 * @param {string} url
 * @returns {Promise<void>}
 */
export async function runCheck(fetchFn, url) {
  let res;
  try {
    res = await fetchFn(url, { credentials: 'omit', cache: 'no-store' });
  } catch {
    throw /** @type {Refusal} */ ({ code: ERROR_CODES.NETWORK_IO, retryAfter: 0 });
  }
  const body = await res.json().catch(() => null);
  const code = checkAnswerCode(res.status, body);
  if (code) {
    const retryAfter = code === ERROR_CODES.TOO_MANY_REQUESTS ? retryAfterSeconds(res, body) : 0;
    throw /** @type {Refusal} */ ({ code, retryAfter });
  }
}
