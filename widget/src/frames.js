/**
 * Camera frame capture: one JPEG per frame, drawn from the preview video.
 * @module frames
 */

/** JPEG qualities tried in turn until a frame fits in maxBytes. */
export const QUALITIES = Object.freeze([0.85, 0.7, 0.55, 0.4]);

/**
 * @typedef {object} CaptureSpec
 * @property {number} maxFps frames a second, at most
 * @property {number} maxBytes largest frame, in bytes
 * @property {number} width frame width, pixels
 * @property {number} height frame height, pixels
 */

/** Defaults for fields a `capture` message leaves out. */
export const DEFAULT_CAPTURE = Object.freeze({ maxFps: 5, maxBytes: 512 * 1024, width: 640, height: 480 });

/**
 * The capture settings of a `capture` message, with defaults for missing or invalid fields.
 * @param {Record<string, unknown>} msg
 * @returns {CaptureSpec}
 */
export function captureSpec(msg) {
  /** @type {Record<string, number>} */
  const spec = { ...DEFAULT_CAPTURE };
  for (const key of Object.keys(DEFAULT_CAPTURE)) {
    const v = msg[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) spec[key] = v;
  }
  return /** @type {CaptureSpec} */ (spec);
}

/**
 * The largest centered source rectangle with the destination's aspect ratio,
 * so that the frame is cropped rather than stretched.
 * @param {number} sw source width
 * @param {number} sh source height
 * @param {number} dw destination width
 * @param {number} dh destination height
 * @returns {[number, number, number, number]} sx, sy, sWidth, sHeight
 */
export function coverRect(sw, sh, dw, dh) {
  const scale = Math.min(sw / dw, sh / dh);
  const w = dw * scale;
  const h = dh * scale;
  return [(sw - w) / 2, (sh - h) / 2, w, h];
}

/**
 * Encodes at decreasing qualities until the result fits in maxBytes.
 * @param {(quality: number) => Promise<Blob|null>} encode
 * @param {number} maxBytes
 * @returns {Promise<Blob|null>} null when no quality fits (the frame is skipped)
 */
export async function encodeWithin(encode, maxBytes) {
  for (const quality of QUALITIES) {
    const blob = await encode(quality);
    if (blob && blob.size <= maxBytes) return blob;
  }
  return null;
}

/** Side of the tiny copy a frame's brightness is measured on, in pixels. */
const LUMA_SIZE = 16;

/**
 * The mean luma (Rec. 601, 0–255) of RGBA pixels.
 * @param {ArrayLike<number>} rgba
 * @returns {number}
 */
export function meanLuma(rgba) {
  let sum = 0;
  const n = Math.floor(rgba.length / 4);
  for (let i = 0; i < n * 4; i += 4) sum += 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
  return n ? sum / n : 0;
}

/**
 * Returns a function that grabs the current picture of a video element as
 * one JPEG. It resolves null when the video has no picture yet or when no
 * quality fits in maxBytes. Its `luma` property is the mean brightness of
 * the last picture grabbed (measured on a 16×16 copy), or undefined.
 * @param {Document} doc the document that creates the canvas
 * @returns {((video: HTMLVideoElement, spec: CaptureSpec) => Promise<ArrayBuffer|null>) & {luma?: number}}
 */
export function frameGrabber(doc) {
  /** @type {HTMLCanvasElement|null} created on first use */
  let lazyCanvas = null;
  /** @type {HTMLCanvasElement|null} */
  let lazySmall = null;
  /** @type {((video: HTMLVideoElement, spec: CaptureSpec) => Promise<ArrayBuffer|null>) & {luma?: number}} */
  const grab = async (video, spec) => {
    if (video.readyState < 2 || !video.videoWidth) return null;
    const canvas = lazyCanvas || (lazyCanvas = doc.createElement('canvas'));
    canvas.width = spec.width;
    canvas.height = spec.height;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    const source = coverRect(video.videoWidth, video.videoHeight, spec.width, spec.height);
    ctx.drawImage(video, ...source, 0, 0, spec.width, spec.height);
    try {
      const small = lazySmall || (lazySmall = doc.createElement('canvas'));
      small.width = small.height = LUMA_SIZE;
      const sctx = /** @type {CanvasRenderingContext2D} */ (small.getContext('2d', { willReadFrequently: true }));
      sctx.drawImage(canvas, 0, 0, LUMA_SIZE, LUMA_SIZE);
      grab.luma = meanLuma(sctx.getImageData(0, 0, LUMA_SIZE, LUMA_SIZE).data);
    } catch {
      grab.luma = undefined;
    }
    const encode = (/** @type {number} */ q) => new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', q));
    const blob = await encodeWithin(encode, spec.maxBytes);
    return blob ? blob.arrayBuffer() : null;
  };
  return grab;
}
