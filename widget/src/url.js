/**
 * URL building for the Likeness server endpoints used by the widget.
 * @module url
 */

/**
 * Normalizes a server base URL: no trailing slash.
 * @param {string} host e.g. "https://auth.example.com" or "https://example.com/likeness/"
 * @returns {string}
 */
export function baseURL(host) {
  return String(host).replace(/\/+$/, '');
}

/**
 * The WebSocket base of a server base URL: http → ws, https → wss.
 * @param {string} host
 * @returns {string}
 */
export function wsURL(host) {
  return baseURL(host).replace(/^http(s?):\/\//i, (_, secure) => (secure ? 'wss://' : 'ws://'));
}

/**
 * The query string naming the application, the operation and, when set,
 * the purpose of the token ("privacy": the server's own privacy page).
 * @param {string} publicId
 * @param {'enroll'|'authenticate'} op
 * @param {string} [purpose]
 * @returns {string}
 */
function query(publicId, op, purpose) {
  return '?publicId=' + encodeURIComponent(publicId) + '&op=' + op + (purpose ? '&purpose=' + encodeURIComponent(purpose) : '');
}

/**
 * The pre-flight check URL (an HTTP GET whose status the widget can read).
 * @param {string} host
 * @param {string} publicId
 * @param {'enroll'|'authenticate'} op
 * @param {string} [purpose]
 * @returns {string}
 */
export function checkURL(host, publicId, op, purpose) {
  return baseURL(host) + '/widget/check' + query(publicId, op, purpose);
}

/**
 * The URL of the operation's WebSocket.
 * @param {string} host
 * @param {string} publicId
 * @param {'enroll'|'authenticate'} op
 * @param {string} [purpose]
 * @returns {string}
 */
export function socketURL(host, publicId, op, purpose) {
  return wsURL(host) + '/widget/ws' + query(publicId, op, purpose);
}

/**
 * The origin a script was loaded from, for the default `host` option.
 * @param {string|undefined} scriptSrc document.currentScript.src at load time
 * @param {string} fallback the page's origin
 * @returns {string}
 */
export function scriptOrigin(scriptSrc, fallback) {
  try {
    return new URL(/** @type {string} */ (scriptSrc)).origin;
  } catch {
    return fallback;
  }
}
