import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, toErrorCode } from '../src/errors.js';

test('the error table is exactly FACEIO\'s, with its spelling', () => {
  assert.deepEqual(ERROR_CODES, {
    PERMISSION_REFUSED: 1, NO_FACES_DETECTED: 2, UNRECOGNIZED_FACE: 3, MANY_FACES: 4, PAD_ATTACK: 5,
    FACE_MISMATCH: 6, NETWORK_IO: 7, WRONG_PIN_CODE: 8, PROCESSING_ERR: 9, UNAUTHORIZED: 10,
    TERMS_NOT_ACCEPTED: 11, UI_NOT_READY: 12, SESSION_EXPIRED: 13, TIMEOUT: 14, TOO_MANY_REQUESTS: 15,
    EMPTY_ORIGIN: 16, FORBIDDDEN_ORIGIN: 17, FORBIDDDEN_COUNTRY: 18, UNIQUE_PIN_REQUIRED: 19,
    SESSION_IN_PROGRESS: 20, FACE_DUPLICATION: 21, MINORS_NOT_ALLOWED: 22,
  });
  assert.ok(Object.isFrozen(ERROR_CODES));
});

test('toErrorCode keeps known codes and maps anything else to PROCESSING_ERR', () => {
  assert.equal(toErrorCode(5), 5);
  assert.equal(toErrorCode(22), 22);
  for (const bad of [0, 23, '5', null, undefined, 5.5, NaN]) assert.equal(toErrorCode(bad), 9, String(bad));
});
