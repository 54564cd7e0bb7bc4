/**
 * Entry point of static/fio.js: defines window.faceIO and window.fioErrCode,
 * as FACEIO's fio.js does.
 */

import { browserEnv } from './env.js';
import { ERROR_CODES } from './errors.js';
import { createFaceIO } from './faceio.js';

/** @type {any} */
const win = window;
win.fioErrCode = ERROR_CODES;
win.faceIO = createFaceIO(browserEnv(window));
