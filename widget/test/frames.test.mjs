import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QUALITIES, captureSpec, coverRect, encodeWithin } from '../src/frames.js';

test('captureSpec fills missing or invalid fields with defaults', () => {
  assert.deepEqual(captureSpec({ type: 'capture' }), { maxFps: 5, maxBytes: 524288, width: 640, height: 480 });
  assert.deepEqual(captureSpec({ maxFps: 8, maxBytes: 1000, width: 320, height: -1 }), { maxFps: 8, maxBytes: 1000, width: 320, height: 480 });
});

test('coverRect crops to the destination aspect ratio', () => {
  assert.deepEqual(coverRect(640, 480, 640, 480), [0, 0, 640, 480]);
  assert.deepEqual(coverRect(1280, 720, 640, 480), [160, 0, 960, 720]);
  assert.deepEqual(coverRect(480, 640, 640, 480), [0, 140, 480, 360]);
});

test('encodeWithin lowers the quality until the frame fits, else skips it', async () => {
  const sizes = { 0.85: 900, 0.7: 700, 0.55: 500, 0.4: 300 };
  const tried = [];
  const encode = async (q) => {
    tried.push(q);
    return { size: sizes[q], q };
  };
  assert.equal((await encodeWithin(encode, 1000)).q, 0.85);
  assert.equal((await encodeWithin(encode, 600)).q, 0.55);
  tried.length = 0;
  assert.equal(await encodeWithin(encode, 100), null);
  assert.deepEqual(tried, [...QUALITIES]);
  assert.equal(await encodeWithin(async () => null, 100), null, 'toBlob may give null');
});

test('meanLuma is the mean Rec. 601 luma of RGBA pixels', async () => {
  const { meanLuma } = await import('../src/frames.js');
  assert.equal(meanLuma([0, 0, 0, 255, 255, 255, 255, 255]), 127.5);
  assert.equal(Math.round(meanLuma([255, 0, 0, 255])), 76);
  assert.equal(meanLuma([]), 0);
});
