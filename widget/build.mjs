/**
 * Builds static/ from widget/: bundles widget/src/index.js into one minified
 * IIFE, static/fio.js, and copies the demo page (widget/demo → static).
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

/** Writes static/fio.js and the demo files. */
export async function buildStatic() {
  await mkdir(STATIC_DIR, { recursive: true });
  await build(BUNDLE_OPTIONS);
  for (const file of DEMO_FILES) await copyFile(join(widget, 'demo', file), join(STATIC_DIR, file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildStatic();
  console.log('built static/fio.js and static/' + DEMO_FILES.join(', static/'));
}
