/**
 * Fakes of the browser environment, to drive the operation state machine
 * (widget/src/session.js) under node. No tests in this file.
 */

/** Lets pending promise callbacks run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A manual clock implementing setTimeout/clearTimeout/now. */
export class FakeClock {
  now = 0;
  #timers = new Map();
  #nextId = 1;

  setTimeout = (fn, ms) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id;
  };

  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  /** Number of timers not fired yet. */
  get pending() {
    return this.#timers.size;
  }

  /** Moves time forward by ms, firing due timers in order and flushing promises after each. */
  async advance(ms) {
    const end = this.now + ms;
    await flush();
    for (;;) {
      let next = null;
      for (const [id, t] of this.#timers) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
      if (!next) break;
      this.#timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      await flush();
    }
    this.now = end;
  }
}

/** A WebSocket stand-in: the test plays the server. */
export class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = false;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
  }

  send(data) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }

  close() {
    this.closed = true;
    this.readyState = 3;
  }

  /** Server side: the connection opens. */
  open() {
    this.readyState = 1;
    this.onopen?.();
  }

  /** Server side: sends a control message (object → JSON). */
  push(msg) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }

  /** Server side: the connection drops. */
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }

  /** The JSON control messages sent by the widget, parsed. */
  get messages() {
    return this.sent.filter((d) => typeof d === 'string').map((d) => JSON.parse(d));
  }

  /** The binary frames sent by the widget. */
  get frames() {
    return this.sent.filter((d) => typeof d !== 'string');
  }
}

/** A camera stream whose tracks record stop(). */
export function fakeStream() {
  const tracks = [{ stopped: false, stop() { this.stopped = true; } }];
  return { tracks, getTracks: () => tracks, get stopped() { return tracks.every((t) => t.stopped); } };
}

/** A UI that records what it was asked to show and exposes the user's callbacks. */
export function fakeUI(options) {
  const ui = {
    options, video: { fake: 'video' }, screens: [], statuses: [], progresses: [], closed: false,
    consent: null, pin: null, stream: null, outcome: null,
    showIntro() { ui.screens.push('intro'); },
    showCamera() { ui.screens.push('camera'); },
    showConsent(notice, answer) { ui.screens.push('consent'); ui.consent = { notice, answer }; },
    showPin(request, submit) { ui.screens.push('pin'); ui.pin = { request, submit }; },
    showOutcome(outcome, choose) { ui.screens.push('outcome'); ui.outcome = { ...outcome, choose }; },
    attachStream(stream) { ui.stream = stream; },
    status(key) { ui.statuses.push(key); },
    progress(p) { ui.progresses.push(p); },
    close() { ui.closed = true; },
    get screen() { return ui.screens[ui.screens.length - 1]; },
  };
  return ui;
}

/** A JPEG-looking frame. */
export const FRAME = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]).buffer;

/**
 * A fake environment. `camera` decides getUserMedia's answer: a function
 * (timeoutMs) => Promise; by default the camera is granted at once.
 */
export function fakeEnv() {
  const clock = new FakeClock();
  const env = {
    clock,
    sockets: [],
    checks: [],
    uis: [],
    streams: [],
    /** @type {number|null} FACEIO code the check rejects with */
    checkCode: null,
    checkRetryAfter: 0,
    camera: () => {
      const s = fakeStream();
      env.streams.push(s);
      return Promise.resolve(s);
    },
    frame: () => FRAME.slice(0),
    defaultHost: 'https://likeness.test',
    language: () => 'fr-CA',
    now: () => clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    check: async (url) => {
      env.checks.push(url);
      if (env.checkCode) throw { code: env.checkCode, retryAfter: env.checkRetryAfter };
    },
    openSocket: (url) => {
      const s = new FakeSocket(url);
      env.sockets.push(s);
      return s;
    },
    openCamera: (ms) => env.camera(ms),
    createUI: (options) => {
      const ui = fakeUI(options);
      env.uis.push(ui);
      return ui;
    },
    grabFrame: async () => env.frame(),
    get socket() { return env.sockets[env.sockets.length - 1]; },
    get ui() { return env.uis[env.uis.length - 1]; },
  };
  return env;
}

/** Tracks a promise's outcome synchronously readable after a flush. */
export function track(promise) {
  const s = { state: 'pending', value: undefined };
  promise.then(
    (v) => Object.assign(s, { state: 'resolved', value: v }),
    (e) => Object.assign(s, { state: 'rejected', value: e }),
  );
  return s;
}
