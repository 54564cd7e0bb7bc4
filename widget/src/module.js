/**
 * Entry point of the ES module build (static/fio.mjs, packages/fiojs): the
 * same faceIO class as fio.js, as the default export, as FACEIO's
 * `@faceio/fiojs` package exports it:
 *
 *   import faceIO from '@likeness/fiojs';
 *   const faceio = new faceIO('app_…', { host: 'https://likeness.example' });
 *
 * Loaded straight from the server (`import faceIO from
 * 'https://likeness.example/fio.mjs'`) the host defaults to the server; in a
 * bundle it defaults to the page's origin, so pass `host`. Outside a browser
 * (server-side rendering) importing works and constructing throws.
 */

import { browserEnv } from './env.js';
import { ERROR_CODES } from './errors.js';
import { createFaceIO } from './faceio.js';

/** A stand-in that says where fio.js runs, for server-side rendering. */
class NoBrowser {
  constructor() {
    throw new Error('faceIO runs in a browser only (no window here)');
  }
}

const faceIO = typeof window === 'undefined'
  ? /** @type {ReturnType<typeof createFaceIO>} */ (/** @type {unknown} */ (NoBrowser))
  : createFaceIO(browserEnv(window, import.meta.url));

export default faceIO;
export { faceIO, ERROR_CODES as fioErrCode };
