// The committed static/ files must be the build of widget/ (run `npm run build`).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, DEMO_FILES, MODULE_OPTIONS, MODULE_OUTFILES, PACKAGE_DIR, STATIC_DIR } from '../build.mjs';

/** The widget's budget, gzipped, with every locale (issue 16). */
const GZIP_BUDGET = 30 * 1024;

test('static/fio.js is up to date with widget/src', async () => {
  const fresh = await build({ ...BUNDLE_OPTIONS, write: false });
  const committed = await readFile(join(STATIC_DIR, 'fio.js'), 'utf8').catch(() => '');
  assert.ok(committed === fresh.outputFiles[0].text, 'static/fio.js is stale or missing: run `npm run build`');
});

test('the ES module copies (static/fio.mjs, packages/fiojs/fio.mjs) are up to date', async () => {
  const fresh = await build({ ...MODULE_OPTIONS, write: false });
  for (const file of MODULE_OUTFILES) {
    const committed = await readFile(file, 'utf8').catch(() => '');
    assert.ok(committed === fresh.outputFiles[0].text, `${file} is stale or missing: run \`npm run build\``);
  }
});

test('fio.js and fio.mjs, with every locale, stay under 30 KB gzipped', async () => {
  for (const file of ['fio.js', 'fio.mjs']) {
    const size = gzipSync(await readFile(join(STATIC_DIR, file)), { level: 9 }).length;
    assert.ok(size <= GZIP_BUDGET, `${file}: ${size} bytes gzipped > ${GZIP_BUDGET}`);
  }
});

test('import faceIO from \'@likeness/fiojs\' works in a bundler and in node', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fiojs-'));
  try {
    await mkdir(join(dir, 'node_modules', '@likeness'), { recursive: true });
    await symlink(PACKAGE_DIR, join(dir, 'node_modules', '@likeness', 'fiojs'), 'dir');
    await writeFile(join(dir, 'app.js'),
      "import faceIO, { fioErrCode } from '@likeness/fiojs';\nwindow.app = { faceIO, code: fioErrCode.SESSION_IN_PROGRESS };\n");
    const out = await build({ entryPoints: [join(dir, 'app.js')], bundle: true, write: false, format: 'iife', absWorkingDir: dir, logLevel: 'silent' });
    const code = out.outputFiles[0].text;
    assert.match(code, /SESSION_IN_PROGRESS/, 'the package was bundled');
    assert.match(code, /restartSession/);
    const pkg = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    assert.equal(pkg.name, '@likeness/fiojs');
    const mod = await import(pathToFileURL(join(PACKAGE_DIR, 'fio.mjs')).href);
    assert.equal(mod.fioErrCode.SESSION_IN_PROGRESS, 20);
    assert.equal(typeof mod.default, 'function');
    assert.throws(() => new mod.default('app'), /browser only/, 'no window: constructing says why');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
