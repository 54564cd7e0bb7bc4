/**
 * Builds static/ from widget/: bundles widget/src/index.js into one minified
 * IIFE, static/fio.js; widget/src/module.js into an ES module, static/fio.mjs
 * and packages/fiojs/fio.mjs (the installable package); and copies the demo
 * page (widget/demo → static).
 * Usage: node widget/build.mjs (npm run build).
 */

import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const widget = dirname(fileURLToPath(import.meta.url));

/** Where the built files go. */
export const STATIC_DIR = join(widget, '..', 'static');

/** The demo files copied as they are from widget/demo. */
export const DEMO_FILES = Object.freeze(['demo.html', 'demo.js']);

/** esbuild options of static/fio.js. */
export const BUNDLE_OPTIONS = Object.freeze({
  entryPoints: [join(widget, 'src', 'index.js')],
  outfile: join(STATIC_DIR, 'fio.js'),
  bundle: true,
  format: /** @type {const} */ ('iife'),
  minify: true,
  target: 'es2020',
  banner: { js: '/*! Likeness widget, fio.js-compatible; source in widget/src */' },
  legalComments: /** @type {const} */ ('none'),
  logLevel: /** @type {const} */ ('warning'),
});

/** The installable package folder (`import faceIO from '@likeness/fiojs'`). */
export const PACKAGE_DIR = join(widget, '..', 'packages', 'fiojs');

/** esbuild options of the ES module build; outfile is set per copy. */
export const MODULE_OPTIONS = Object.freeze({
  ...BUNDLE_OPTIONS,
  entryPoints: [join(widget, 'src', 'module.js')],
  format: /** @type {const} */ ('esm'),
  outfile: join(STATIC_DIR, 'fio.mjs'),
});

/** Where the ES module build is written (the server's copy, the package's). */
export const MODULE_OUTFILES = Object.freeze([join(STATIC_DIR, 'fio.mjs'), join(PACKAGE_DIR, 'fio.mjs')]);

/** Writes static/fio.js, the ES module copies and the demo files. */
export async function buildStatic() {
  await mkdir(STATIC_DIR, { recursive: true });
  await build(BUNDLE_OPTIONS);
  for (const outfile of MODULE_OUTFILES) await build({ ...MODULE_OPTIONS, outfile });
  for (const file of DEMO_FILES) await copyFile(join(widget, 'demo', file), join(STATIC_DIR, file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildStatic();
  console.log('built static/fio.js, static/fio.mjs, packages/fiojs/fio.mjs and static/' + DEMO_FILES.join(', static/'));
}
