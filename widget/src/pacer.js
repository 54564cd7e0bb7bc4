/**
 * Flow control of camera frames: at most `maxFps` frames a second and never
 * more than `maxInFlight` frames the server has not answered yet. Every
 * server message that answers a frame (guide, pin, result, error) gives one
 * credit back.
 * @module pacer
 */

export class FramePacer {
  /**
   * @param {{maxFps: number, maxInFlight?: number}} limits
   */
  constructor({ maxFps, maxInFlight = 2 }) {
    /** Minimum milliseconds between two frame slots. */
    this.interval = 1000 / maxFps;
    this.maxInFlight = maxInFlight;
    /** Frames sent and not answered yet. */
    this.inFlight = 0;
    /** Time of the last slot used (frame sent or skipped). */
    this.lastSlot = -Infinity;
  }

  /**
   * Milliseconds to wait before the next frame may be taken: 0 when it may be
   * taken now, Infinity while waiting for an answer from the server.
   * @param {number} now milliseconds
   * @returns {number}
   */
  delay(now) {
    if (this.inFlight >= this.maxInFlight) return Infinity;
    return Math.max(0, this.lastSlot + this.interval - now);
  }

  /**
   * Records that a frame slot was used at `now`.
   * @param {number} now milliseconds
   * @param {boolean} sent whether a frame was actually sent (a skipped frame uses the slot but no credit)
   */
  use(now, sent) {
    this.lastSlot = now;
    if (sent) this.inFlight += 1;
  }

  /** Records an answer from the server: one credit back. */
  answer() {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }
}
