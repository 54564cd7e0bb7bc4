// The committed static/ files must be the build of widget/ (run `npm run build`).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, DEMO_FILES, STATIC_DIR } from '../build.mjs';

test('static/fio.js is up to date with widget/src', async () => {
  const fresh = await build({ ...BUNDLE_OPTIONS, write: false });
  const committed = await readFile(join(STATIC_DIR, 'fio.js'), 'utf8').catch(() => '');
  assert.ok(committed === fresh.outputFiles[0].text, 'static/fio.js is stale or missing: run `npm run build`');
});

test('the static demo files are up to date with widget/demo', async () => {
  for (const file of DEMO_FILES) {
    const source = await readFile(new URL(`../demo/${file}`, import.meta.url), 'utf8');
    const committed = await readFile(join(STATIC_DIR, file), 'utf8').catch(() => '');
    assert.ok(committed === source, `static/${file} is stale or missing: run \`npm run build\``);
  }
});

test('fio.js is self-contained: no third-party URL, no import', async () => {
  const code = await readFile(join(STATIC_DIR, 'fio.js'), 'utf8');
  assert.doesNotMatch(code, /https?:\/\//, 'no absolute URL in the bundle');
  assert.doesNotMatch(code, /\bimport\s*\(|@import|url\(/);
});
