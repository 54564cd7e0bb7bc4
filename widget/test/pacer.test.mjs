import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FramePacer } from '../src/pacer.js';

test('frames are spaced by 1/maxFps', () => {
  const p = new FramePacer({ maxFps: 4, maxInFlight: 100 });
  assert.equal(p.delay(0), 0, 'first frame at once');
  p.use(0, true);
  assert.equal(p.delay(0), 250);
  assert.equal(p.delay(100), 150);
  assert.equal(p.delay(250), 0);
  p.use(260, false);
  assert.equal(p.delay(300), 210, 'a skipped frame uses its slot too');
});

test('never more than maxInFlight unanswered frames', () => {
  const p = new FramePacer({ maxFps: 1000 });
  p.use(0, true);
  assert.equal(p.delay(10), 0);
  p.use(10, true);
  assert.equal(p.delay(10_000), Infinity, 'two in flight: wait for an answer');
  p.use(20, false);
  p.answer();
  assert.equal(p.delay(10_000), 0);
  p.answer();
  p.answer();
  assert.equal(p.inFlight, 0, 'extra answers do not create credit');
  p.use(30, true);
  p.use(31, true);
  assert.equal(p.delay(100), Infinity, 'credit is capped at maxInFlight');
});
