/**
 * Camera access.
 * @module camera
 */

/** The constraints of the one getUserMedia call. */
export const CAMERA_CONSTRAINTS = Object.freeze({
  video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' },
  audio: false,
});

/** getUserMedia error names that mean "there is no usable camera" rather than "refused". */
const UNAVAILABLE = ['NotFoundError', 'NotReadableError', 'OverconstrainedError', 'AbortError'];

/**
 * Asks for the camera. Resolves the stream; rejects with the protocol's
 * `camera` error: 'denied' (refused, or no answer within timeoutMs) or
 * 'unavailable' (no camera, busy camera, no API in this context).
 * @param {MediaDevices|undefined} mediaDevices navigator.mediaDevices
 * @param {number} timeoutMs
 * @returns {Promise<MediaStream>}
 */
export function openCamera(mediaDevices, timeoutMs) {
  if (!mediaDevices || typeof mediaDevices.getUserMedia !== 'function') {
    return Promise.reject('unavailable');
  }
  return new Promise((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject('denied');
    }, timeoutMs);
    mediaDevices.getUserMedia(CAMERA_CONSTRAINTS).then(
      (stream) => {
        clearTimeout(timer);
        if (expired) stopStream(stream);
        else resolve(stream);
      },
      (err) => {
        clearTimeout(timer);
        reject(err && UNAVAILABLE.includes(err.name) ? 'unavailable' : 'denied');
      },
    );
  });
}

/**
 * Stops every track of a stream (turns the camera off).
 * @param {{getTracks(): {stop(): void}[]}} stream
 */
export function stopStream(stream) {
  for (const track of stream.getTracks()) track.stop();
}
