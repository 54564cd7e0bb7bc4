/**
 * The widget's stylesheet, applied inside its shadow root only.
 * @module styles
 */

export const CSS = `
:host { all: initial; position: fixed; inset: 0; z-index: 2147483647;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 16px; line-height: 1.45; color: #111827; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.backdrop { position: fixed; inset: 0; display: flex; align-items: center; justify-content: center;
  padding: 12px; background: rgba(17, 24, 39, .72); overflow-y: auto; }
.dialog { width: 100%; max-width: 440px; max-height: 100%; overflow-y: auto; background: #fff; color: #111827;
  border-radius: 14px; box-shadow: 0 20px 50px rgba(0, 0, 0, .35); padding: 20px;
  display: flex; flex-direction: column; gap: 14px; }
.dialog:focus, h3:focus { outline: none; }
h2 { margin: 0; font-size: 1.25rem; font-weight: 700; }
h3 { margin: 0 0 8px; font-size: 1.05rem; font-weight: 700; }
p { margin: 0; }
.intro { display: flex; flex-direction: column; align-items: center; gap: 14px; text-align: center; padding: 8px 0; }
.intro-oval { width: 72px; height: 96px; border-radius: 50%; border: 3px dashed #1d4ed8; }
.stage { position: relative; width: 100%; aspect-ratio: 4 / 3; border-radius: 10px; overflow: hidden; background: #0b1220; }
video { display: block; width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); }
.oval { position: absolute; left: 50%; top: 50%; width: 52%; height: 80%; transform: translate(-50%, -50%);
  border-radius: 50%; border: 3px dashed rgba(255, 255, 255, .95);
  box-shadow: 0 0 0 9999px rgba(11, 18, 32, .55); transition: border-color .2s; }
.oval.ok { border-style: solid; border-color: #22c55e; }
.notice { max-height: 40vh; overflow-y: auto; white-space: pre-wrap; padding: 12px; border: 1px solid #9ca3af;
  border-radius: 8px; background: #f9fafb; font-size: .95rem; }
.privacy { display: inline-block; margin-top: 10px; }
a { color: #1d4ed8; text-decoration: underline; }
.status { min-height: 1.45em; font-weight: 600; text-align: center; }
.progress { height: 8px; border-radius: 4px; background: #e5e7eb; overflow: hidden; }
.bar { height: 100%; width: 0; background: #1d4ed8; transition: width .25s; }
.dialog[data-screen="consent"] .status, .dialog[data-screen="consent"] .progress,
.dialog[data-screen="pin"] .status, .dialog[data-screen="pin"] .progress,
.dialog[data-screen="outcome"] .status, .dialog[data-screen="outcome"] .progress,
.dialog[data-screen="outcome"] .footer { display: none; }
.outcome { display: flex; flex-direction: column; align-items: center; gap: 12px; text-align: center; padding: 8px 0; }
.outcome .actions { justify-content: center; margin-top: 4px; }
.mark { width: 56px; height: 56px; border-radius: 50%; display: flex; align-items: center; justify-content: center;
  font-size: 2rem; font-weight: 700; color: #fff; background: #b91c1c; }
.mark.ok { background: #15803d; }
.message { font-size: 1.05rem; font-weight: 600; }
.message:focus { outline: none; }
.actions, .footer { display: flex; gap: 10px; justify-content: flex-end; flex-wrap: wrap; margin-top: 14px; }
.footer { margin-top: 0; }
button { font: inherit; font-weight: 600; min-height: 44px; padding: 10px 18px; border-radius: 8px;
  border: 2px solid #1d4ed8; cursor: pointer; }
.primary { background: #1d4ed8; color: #fff; }
.primary:hover { background: #1e40af; border-color: #1e40af; }
.secondary { background: #fff; color: #1d4ed8; }
.secondary:hover { background: #eff6ff; }
button:focus-visible, a:focus-visible, input:focus-visible, .notice:focus-visible {
  outline: 3px solid #111827; outline-offset: 2px; }
form { display: flex; flex-direction: column; gap: 10px; }
label { font-weight: 600; }
input { font: inherit; font-size: 1.25rem; letter-spacing: .3em; width: 100%; padding: 10px 12px;
  border: 2px solid #4b5563; border-radius: 8px; color: #111827; background: #fff; }
.error { min-height: 1.2em; color: #b91c1c; font-size: .95rem; }
@media (max-width: 400px) {
  .backdrop { padding: 0; }
  .dialog { max-width: none; min-height: 100%; border-radius: 0; padding: 16px; }
  .actions button { flex: 1 1 auto; }
}
@media (prefers-reduced-motion: reduce) { .oval, .bar { transition: none; } }
`;

/**
 * Applies the stylesheet to a shadow root: as a constructed stylesheet where
 * supported (no inline <style>, so no 'unsafe-inline' needed), else as a
 * <style> element.
 * @param {ShadowRoot} root
 */
export function applyStyles(root) {
  const doc = /** @type {Document} */ (root.ownerDocument);
  const Sheet = doc.defaultView && doc.defaultView.CSSStyleSheet;
  if (Sheet && 'adoptedStyleSheets' in root && 'replaceSync' in Sheet.prototype) {
    const sheet = new Sheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
    return;
  }
  const style = doc.createElement('style');
  style.textContent = CSS;
  root.appendChild(style);
}
