/**
 * One enroll or authenticate operation: the client side of the streaming
 * protocol (docs/protocol.md). Everything that touches the browser comes in
 * through an Env, so this state machine runs under node with fakes.
 * @module session
 */

import { stopStream } from './camera.js';
import { ERROR_CODES, RETRYABLE, toErrorCode } from './errors.js';
import { captureSpec } from './frames.js';
import { HINTS } from './locale.js';
import { FramePacer } from './pacer.js';
import { startMessage } from './params.js';
import { checkURL, socketURL } from './url.js';

/** @typedef {import('./params.js').OperationOptions} OperationOptions */
/** @typedef {import('./frames.js').CaptureSpec} CaptureSpec */
/** @typedef {import('./ui.js').UI} UI */

/**
 * The subset of WebSocket the operation uses.
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {(data: string|ArrayBuffer) => void} send
 * @property {(code?: number) => void} close
 * @property {((ev?: any) => void)|null} onopen
 * @property {((ev: {data: unknown}) => void)|null} onmessage
 * @property {((ev?: any) => void)|null} onclose
 * @property {((ev?: any) => void)|null} onerror
 */

/**
 * What an operation needs from its surroundings.
 * @typedef {object} Env
 * @property {(url: string) => Promise<void>} check the pre-flight check; rejects with a FACEIO code
 * @property {(url: string) => SocketLike} openSocket
 * @property {(timeoutMs: number) => Promise<MediaStream>} openCamera rejects with 'denied' or 'unavailable'
 * @property {(options: {op: 'enroll'|'authenticate', locale: string, onAbort: () => void}) => UI} createUI
 * @property {(video: HTMLVideoElement, spec: CaptureSpec) => Promise<ArrayBuffer|null>} grabFrame
 * @property {() => number|undefined} [brightness] mean luma (0–255) of the last frame grabbed
 * @property {() => number} now milliseconds, monotonic
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(id: unknown) => void} clearTimeout
 * @property {() => boolean} [framed] whether the page is framed by another origin (frame.js)
 */

/** WebSocket.OPEN */
const OPEN = 1;

/** The fields of a `result` message that the promise resolves with. */
export const RESULT_FIELDS = Object.freeze({
  enroll: ['facialId', 'timestamp', 'details', 'token'],
  authenticate: ['facialId', 'payload', 'token'],
});

/** The PIN length asked for when a `pin` message gives none. */
const DEFAULT_PIN_LENGTH = 4;

/** After this long with no face in view, the guidance says why it may be. */
export const NO_FACE_HELP_MS = 2500;

/** Below this mean luma (0–255) a frame with no face is "too dark". */
export const DARK_LUMA = 45;

/** Codes with no outcome screen: the visitor closed the widget, or there is no dialog. */
const NO_SCREEN = [ERROR_CODES.SESSION_EXPIRED, ERROR_CODES.UI_NOT_READY, ERROR_CODES.SESSION_IN_PROGRESS];

export class Operation {
  /**
   * @param {Env} env
   * @param {{host: string, publicId: string, purpose?: string}} target the server, the application
   *   and the token's purpose ("privacy" on the server's privacy page only)
   * @param {OperationOptions} options
   */
  constructor(env, target, options) {
    this.env = env;
    this.target = target;
    this.o = options;
    /** @type {UI} set by begin(); every other step runs after it */
    this.ui = /** @type {any} */ (null);
    /** Attempts made; callbacks of an earlier attempt are ignored. */
    this.attempt = 0;
    /** Whether an outcome screen is shown (the operation is over, not yet settled). */
    this.outcomeOpen = false;
    /** @type {{ok: boolean, value: unknown}|null} how the last attempt ended */
    this.outcome = null;
    /** @type {(ok: boolean, value: unknown) => void} */
    this.settle = () => {};
    this.reset();
  }

  /** The state of one attempt, fresh. */
  reset() {
    this.done = false;
    /** @type {SocketLike|null} */
    this.socket = null;
    /** @type {MediaStream|null} */
    this.stream = null;
    /** @type {string[]} control messages waiting for the socket to open */
    this.outbox = [];
    /** @type {Record<string, unknown>} timer handles by name */
    this.timers = {};
    this.introOver = false;
    /** @type {Record<string, unknown>|null} a consent request that arrived during the intro */
    this.pendingConsent = null;
    /** @type {CaptureSpec|null} */
    this.spec = null;
    /** @type {FramePacer|null} */
    this.pacer = null;
    this.grabbing = false;
    this.pinOpen = false;
    /** @type {number|null} when the server's no_face hints began */
    this.noFaceSince = null;
    /** Seconds a busy server asked to wait (its refused check), 0 if none. */
    this.wait = 0;
  }

  /**
   * Runs the operation.
   * @returns {Promise<Record<string, unknown>>} the result fields; rejects with a FACEIO code
   */
  run() {
    return new Promise((resolve, reject) => {
      this.settle = (ok, value) => (ok ? resolve(/** @type {Record<string, unknown>} */ (value)) : reject(value));
      this.begin();
    });
  }

  /**
   * Ends the operation as if the user had closed the widget; on an outcome
   * screen, closes it.
   */
  cancel() {
    if (this.outcomeOpen) this.dismiss();
    else this.abort(ERROR_CODES.SESSION_EXPIRED);
  }

  /**
   * Opens the dialog (or, on a retry, reuses it), then asks for the camera
   * and connects, in parallel.
   */
  begin() {
    const { env, o, target } = this;
    const attempt = ++this.attempt;
    const current = () => attempt === this.attempt;
    if (!this.ui) {
      try {
        this.ui = env.createUI({ op: o.op, locale: o.locale, onAbort: () => this.cancel() });
      } catch {
        this.finish(false, ERROR_CODES.UI_NOT_READY);
        return;
      }
    }
    if (attempt > 1) this.ui.progress(0);
    this.ui.status('connecting');
    this.armReplyTimer();
    if (o.enrollIntroTimeout > 0 && attempt === 1) {
      this.ui.showIntro();
      this.startTimer('intro', o.enrollIntroTimeout * 1000, () => this.endIntro());
    } else {
      this.endIntro();
    }
    env.openCamera(o.permissionTimeout * 1000).then(
      (stream) => (current() ? this.cameraReady(stream) : stopStream(stream)),
      (reason) => current() && this.cameraFailed(reason === 'unavailable' ? 'unavailable' : 'denied'),
    );
    env.check(checkURL(target.host, target.publicId, o.op, target.purpose)).then(
      () => current() && this.connect(),
      (/** @type {import('./check.js').Refusal} */ refusal) => {
        if (!current()) return;
        this.wait = refusal.retryAfter;
        this.finish(false, toErrorCode(refusal.code));
      },
    );
  }

  /** The intro screen is over: show what comes next and let frames flow. */
  endIntro() {
    this.introOver = true;
    if (this.done) return;
    if (this.pendingConsent) this.showConsent(this.pendingConsent);
    else this.ui.showCamera();
    this.pump();
  }

  /** @param {MediaStream} stream */
  cameraReady(stream) {
    if (this.done) {
      stopStream(stream);
      return;
    }
    this.stream = stream;
    this.ui.attachStream(stream);
    this.post({ type: 'camera', ok: true });
    this.pump();
  }

  /** @param {'denied'|'unavailable'} error */
  cameraFailed(error) {
    if (this.done) return;
    this.post({ type: 'camera', ok: false, error });
    this.finish(false, ERROR_CODES.PERMISSION_REFUSED);
  }

  /** Opens the socket once the pre-flight check passed. */
  connect() {
    if (this.done) return;
    const { env, o, target } = this;
    let ws;
    try {
      ws = env.openSocket(socketURL(target.host, target.publicId, o.op, target.purpose));
    } catch {
      this.finish(false, ERROR_CODES.NETWORK_IO);
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify(startMessage(o)));
      for (const text of this.outbox.splice(0)) ws.send(text);
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = ws.onclose = () => this.finish(false, ERROR_CODES.NETWORK_IO);
  }

  /**
   * Sends a control message, or queues it until the socket is open (after `start`).
   * @param {Record<string, unknown>} msg
   */
  post(msg) {
    const text = JSON.stringify(msg);
    if (this.socket && this.socket.readyState === OPEN) this.socket.send(text);
    else this.outbox.push(text);
  }

  /**
   * Handles one message from the server.
   * @param {unknown} data
   */
  receive(data) {
    if (this.done || typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'consent':
        if (this.o.op !== 'enroll') return;
        if (this.introOver) this.showConsent(msg);
        else this.pendingConsent = msg;
        return;
      case 'capture':
        this.startCapture(msg);
        return;
      case 'guide':
        if (HINTS.includes(msg.hint)) this.ui.status(this.explain(msg.hint));
        if (typeof msg.progress === 'number') this.ui.progress(msg.progress);
        this.frameAnswered();
        return;
      case 'pin':
        this.frameAnswered();
        this.askPin(msg);
        return;
      case 'result':
        this.finish(true, Object.fromEntries(RESULT_FIELDS[this.o.op].map((k) => [k, msg[k]])));
        return;
      case 'error':
        this.finish(false, toErrorCode(msg.code));
        return;
    }
  }

  /**
   * Shows the consent notice. The reply timer does not run while the user
   * reads it; termsTimeout does.
   * @param {Record<string, unknown>} msg
   */
  showConsent(msg) {
    this.pendingConsent = null;
    if (this.env.framed?.()) {
      // Never ask for consent where another site's page could cover it,
      // and draw nothing more there: no outcome screen either.
      this.finish(false, ERROR_CODES.FORBIDDDEN_ORIGIN, true);
      return;
    }
    this.clearTimer('reply');
    this.startTimer('terms', this.o.termsTimeout * 60_000, () => this.answerConsent(msg, false));
    const notice = {
      title: String(msg.title ?? ''), text: String(msg.text ?? ''), privacyUrl: msg.privacyUrl,
      locale: typeof msg.locale === 'string' ? msg.locale : '',
    };
    this.ui.showConsent(notice, (accept) => this.answerConsent(msg, accept));
  }

  /**
   * Sends the user's answer. A decline (or termsTimeout) ends the operation
   * with TERMS_NOT_ACCEPTED at once.
   * @param {Record<string, unknown>} msg the consent request
   * @param {boolean} accept
   */
  answerConsent(msg, accept) {
    if (this.done) return;
    this.clearTimer('terms');
    this.post({ type: 'consent', accept, version: msg.version, sha256: msg.sha256 });
    if (!accept) {
      this.finish(false, ERROR_CODES.TERMS_NOT_ACCEPTED);
      return;
    }
    this.ui.showCamera();
    this.armReplyTimer();
  }

  /**
   * Starts streaming. The reply timer restarts here, when the server starts
   * its own replyTimeout clock.
   * @param {Record<string, unknown>} msg a `capture` message
   */
  startCapture(msg) {
    if (this.spec) return;
    this.spec = captureSpec(msg);
    this.pacer = new FramePacer({ maxFps: this.spec.maxFps });
    this.armReplyTimer();
    this.ui.status('center_face');
    this.pump();
  }

  /**
   * The guidance to show for a server hint. The server can only say it sees
   * no face; the widget knows whether the picture is dark, and after
   * NO_FACE_HELP_MS says what usually helps.
   * @param {string} hint a known hint
   * @returns {string} a key of the locale tables
   */
  explain(hint) {
    if (hint !== 'no_face') {
      this.noFaceSince = null;
      return hint;
    }
    const now = this.env.now();
    if (this.noFaceSince === null) this.noFaceSince = now;
    const luma = this.env.brightness?.();
    if (typeof luma === 'number' && luma < DARK_LUMA) return 'too_dark';
    return now - this.noFaceSince >= NO_FACE_HELP_MS ? 'no_face_help' : 'no_face';
  }

  /** A server message answered a frame: one more frame may be in flight. */
  frameAnswered() {
    if (!this.pacer) return;
    this.pacer.answer();
    this.pump();
  }

  /** @param {Record<string, unknown>} msg a `pin` message */
  askPin(msg) {
    this.pinOpen = true;
    const minLength = typeof msg.minLength === 'number' && msg.minLength > 0 ? msg.minLength : DEFAULT_PIN_LENGTH;
    this.ui.showPin({ reason: String(msg.reason ?? ''), minLength }, (pin) => {
      if (this.done) return;
      this.post({ type: 'pin', pin });
      this.pinOpen = false;
      this.ui.showCamera();
      this.ui.status('processing');
      this.pump();
    });
  }

  /**
   * Sends the next frame when everything allows it: capture started, camera
   * on, intro over, no PIN screen, rate and in-flight limits respected.
   */
  pump() {
    const { env, pacer, spec, ui } = this;
    if (this.done || !pacer || !spec || !this.stream || !this.introOver || this.pinOpen
      || this.grabbing || this.timers.pump) return;
    const wait = pacer.delay(env.now());
    if (wait === Infinity) return;
    if (wait > 0) {
      this.startTimer('pump', wait, () => this.pump());
      return;
    }
    this.grabbing = true;
    const attempt = this.attempt;
    Promise.resolve()
      .then(() => env.grabFrame(ui.video, spec))
      .catch(() => null)
      .then((frame) => {
        if (attempt !== this.attempt) return;
        this.grabbing = false;
        if (this.done) return;
        const send = Boolean(frame) && !this.pinOpen && this.socket?.readyState === OPEN;
        if (send) this.socket?.send(/** @type {ArrayBuffer} */ (frame));
        pacer.use(env.now(), send);
        this.pump();
      });
  }

  /** (Re)starts the replyTimeout timer; on expiry the operation ends with TIMEOUT. */
  armReplyTimer() {
    this.startTimer('reply', this.o.replyTimeout * 1000, () => this.abort(ERROR_CODES.TIMEOUT));
  }

  /**
   * Starts a named one-shot timer, replacing one of the same name.
   * @param {string} name
   * @param {number} ms
   * @param {() => void} fn
   */
  startTimer(name, ms, fn) {
    this.clearTimer(name);
    this.timers[name] = this.env.setTimeout(() => {
      delete this.timers[name];
      fn();
    }, ms);
  }

  /** @param {string} name */
  clearTimer(name) {
    if (name in this.timers) this.env.clearTimeout(this.timers[name]);
    delete this.timers[name];
  }

  /**
   * Tells the server the user gave up, then ends with code.
   * @param {number} code
   */
  abort(code) {
    if (this.done) return;
    if (this.socket && this.socket.readyState === OPEN) this.post({ type: 'abort' });
    this.finish(false, code);
  }

  /**
   * Ends the attempt once: timers off, camera off, socket closed; then shows
   * the outcome screen, or closes the dialog and settles.
   * @param {boolean} ok
   * @param {unknown} value the result, or a FACEIO code
   * @param {boolean} [quiet] settle at once, without an outcome screen
   */
  finish(ok, value, quiet = false) {
    if (this.done) return;
    this.done = true;
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
    if (this.stream) stopStream(this.stream);
    const ws = this.socket;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        // already closed
      }
    }
    this.outcome = { ok, value };
    if (quiet || !this.ui || !this.o.outcomeScreens || (!ok && NO_SCREEN.includes(/** @type {number} */ (value)))) {
      this.dismiss();
      return;
    }
    // Success closes by itself; an error stays twice as long (it has more
    // to read) and offers a retry where one can help.
    // A busy server says how long to wait: the screen says it too, and a
    // retry after that wait can help.
    const wait = !ok && this.wait > 0 ? this.wait : 0;
    const retry = !ok && (RETRYABLE.includes(/** @type {number} */ (value)) || wait > 0);
    this.outcomeOpen = true;
    this.ui.showOutcome({ ok, op: this.o.op, code: ok ? 0 : /** @type {number} */ (value), retry, ...(wait ? { wait } : {}) },
      (again) => (again ? this.retry() : this.dismiss()));
    this.startTimer('outcome', this.o.outcomeTimeout * (ok ? 1000 : 2000), () => this.dismiss());
  }

  /** Closes the dialog and settles the promise with the outcome. */
  dismiss() {
    this.outcomeOpen = false;
    this.clearTimer('outcome');
    if (this.ui) this.ui.close();
    const { ok, value } = /** @type {{ok: boolean, value: unknown}} */ (this.outcome);
    this.settle(ok, value);
  }

  /** Starts a new attempt in the same dialog (the promise stays pending). */
  retry() {
    if (!this.outcomeOpen) return;
    this.outcomeOpen = false;
    this.clearTimer('outcome');
    this.reset();
    this.begin();
  }
}
