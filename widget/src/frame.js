/**
 * Framing check: the consent dialog is never drawn inside a page of
 * another origin, which could cover or restyle it to trick a click
 * (clickjacking).
 * @module frame
 */

/**
 * Whether the window's page is framed, at any depth, by a page of another
 * origin. Reading another origin's location throws: that counts as framed.
 * @param {any} win a Window, or a stand-in with self, top, parent, location
 * @returns {boolean}
 */
export function framedByOtherOrigin(win) {
  try {
    if (win.top === win.self) return false;
    const own = win.location.origin;
    const ancestors = win.location.ancestorOrigins; // Chromium, Safari
    if (ancestors) {
      for (let i = 0; i < ancestors.length; i++) if (ancestors[i] !== own) return true;
    }
    for (let w = win; w !== w.top; w = w.parent) {
      if (w.parent.location.origin !== own) return true;
    }
    return false;
  } catch {
    return true;
  }
}
