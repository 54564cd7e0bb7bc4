/**
 * The browser environment of an operation.
 * @module env
 */

import { openCamera } from './camera.js';
import { runCheck } from './check.js';
import { framedByOtherOrigin } from './frame.js';
import { frameGrabber } from './frames.js';
import { createUI } from './ui.js';
import { scriptOrigin } from './url.js';

/**
 * Builds the environment from a window. Call it while the script loads:
 * the default host is the origin of document.currentScript (or of
 * moduleURL, an ES module's import.meta.url), else the page's.
 * @param {Window & typeof globalThis} win
 * @param {string} [moduleURL]
 * @returns {import('./faceio.js').FaceIOEnv}
 */
export function browserEnv(win, moduleURL) {
  const doc = win.document;
  const script = /** @type {HTMLScriptElement|null} */ (doc.currentScript);
  const grabFrame = frameGrabber(doc);
  return {
    defaultHost: scriptOrigin(script ? script.src : moduleURL, win.location.origin),
    language: () => win.navigator.language,
    now: () => win.performance.now(),
    setTimeout: (fn, ms) => win.setTimeout(fn, ms),
    clearTimeout: (id) => win.clearTimeout(/** @type {number} */ (id)),
    check: (url) => runCheck(win.fetch.bind(win), url),
    openSocket: (url) => {
      const ws = new win.WebSocket(url);
      ws.binaryType = 'arraybuffer';
      return ws;
    },
    openCamera: (timeoutMs) => openCamera(win.navigator.mediaDevices, timeoutMs),
    createUI: (options) => createUI(doc, options),
    grabFrame,
    brightness: () => grabFrame.luma,
    framed: () => framedByOtherOrigin(win),
  };
}
