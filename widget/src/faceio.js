/**
 * The fio.js-compatible `faceIO` class.
 * @module faceio
 */

import { ERROR_CODES } from './errors.js';
import { normalizeParams } from './params.js';
import { Operation } from './session.js';
import { baseURL } from './url.js';

/**
 * @typedef {import('./session.js').Env & {defaultHost: string, language: () => string|undefined}} FaceIOEnv
 */

/**
 * Builds the faceIO class over an environment (the browser's, or fakes in tests).
 * @param {FaceIOEnv} env
 */
export function createFaceIO(env) {
  /** A FACEIO-compatible widget bound to one application. */
  class faceIO {
    /** @type {Operation|null} */
    #running = null;

    /**
     * The running operation refused a second one (SESSION_IN_PROGRESS):
     * FACEIO's boilerplate calls restartSession() in every catch, which
     * must not end the visitor's running session.
     * @type {Operation|null}
     */
    #refusedFor = null;

    /**
     * @param {string} publicId the application's public ID
     * @param {{host?: string, purpose?: string}} [options] host: base URL of the Likeness server
     *   (default: the origin fio.js was loaded from); purpose: "privacy" on the server's own
     *   privacy page only (its token opens that page and nothing else)
     */
    constructor(publicId, options = {}) {
      this.publicId = String(publicId ?? '');
      this.host = baseURL(options.host || env.defaultHost);
      this.purpose = options.purpose === 'privacy' ? 'privacy' : '';
    }

    /**
     * Enrolls the user's face.
     * @param {Record<string, unknown>} [params] payload, locale, permissionTimeout, termsTimeout,
     *   idleTimeout, replyTimeout, enrollIntroTimeout, userConsent, outcomeScreens, outcomeTimeout
     * @returns {Promise<{facialId: string, timestamp: string, details: object, token: string}>}
     */
    enroll(params) {
      return /** @type {any} */ (this.#run('enroll', params));
    }

    /** Alias of enroll. @param {Record<string, unknown>} [params] */
    enrol(params) {
      return this.enroll(params);
    }

    /** Alias of enroll. @param {Record<string, unknown>} [params] */
    register(params) {
      return this.enroll(params);
    }

    /** Alias of enroll. @param {Record<string, unknown>} [params] */
    record(params) {
      return this.enroll(params);
    }

    /**
     * Authenticates the user by face.
     * @param {Record<string, unknown>} [params] locale, permissionTimeout, idleTimeout, replyTimeout,
     *   outcomeScreens, outcomeTimeout
     * @returns {Promise<{facialId: string, payload: unknown, token: string}>}
     */
    authenticate(params) {
      return /** @type {any} */ (this.#run('authenticate', params));
    }

    /** Alias of authenticate. @param {Record<string, unknown>} [params] */
    auth(params) {
      return this.authenticate(params);
    }

    /** Alias of authenticate. @param {Record<string, unknown>} [params] */
    recognize(params) {
      return this.authenticate(params);
    }

    /** Alias of authenticate. @param {Record<string, unknown>} [params] */
    identify(params) {
      return this.authenticate(params);
    }

    /**
     * Resets the instance so that a new operation can run. A running
     * operation is ended as a user abort (SESSION_EXPIRED), except right
     * after a call was refused with SESSION_IN_PROGRESS (20): that call's
     * catch restarting the session leaves the running one alone.
     * @returns {true}
     */
    restartSession() {
      const running = this.#running;
      if (running && this.#refusedFor === running) {
        this.#refusedFor = null;
        return true;
      }
      this.#running = null;
      if (running) running.cancel();
      return true;
    }

    /** @returns {Readonly<Record<string, number>>} FACEIO error names → codes */
    fetchAllErrorCodes() {
      return ERROR_CODES;
    }

    /**
     * @param {'enroll'|'authenticate'} op
     * @param {Record<string, unknown>|undefined} params
     * @returns {Promise<Record<string, unknown>>}
     */
    #run(op, params) {
      if (this.#running) {
        this.#refusedFor = this.#running;
        return Promise.reject(ERROR_CODES.SESSION_IN_PROGRESS);
      }
      let options;
      try {
        options = normalizeParams(op, params, env.language());
      } catch (code) {
        return Promise.reject(code);
      }
      const operation = new Operation(env, { host: this.host, publicId: this.publicId, purpose: this.purpose }, options);
      this.#running = operation;
      const release = () => {
        if (this.#running === operation) this.#running = null;
        if (this.#refusedFor === operation) this.#refusedFor = null;
      };
      const result = operation.run();
      result.then(release, release);
      return result;
    }
  }
  return faceIO;
}
