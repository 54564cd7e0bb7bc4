/**
 * The modal dialog of the widget, in a shadow root so the site's CSS cannot
 * reach it. It only renders and reports user actions; the operation logic
 * lives in session.js.
 * @module ui
 */

import { errorMessageKey } from './errors.js';
import { direction, translator } from './locale.js';
import { applyStyles } from './styles.js';

/**
 * @typedef {object} Notice
 * @property {string} title
 * @property {string} text
 * @property {unknown} privacyUrl
 * @property {string} locale the language of title and text ('' when unknown)
 */

/**
 * @typedef {object} Outcome
 * @property {boolean} ok
 * @property {'enroll'|'authenticate'} op
 * @property {number} code the FACEIO code (0 on success)
 * @property {boolean} retry whether to offer "Try again"
 * @property {number} [wait] seconds a busy server asked to wait (15 only)
 */

/**
 * @typedef {object} UI
 * @property {HTMLVideoElement} video the camera preview
 * @property {() => void} showIntro
 * @property {() => void} showCamera
 * @property {(notice: Notice, onAnswer: (accept: boolean) => void) => void} showConsent
 * @property {(request: {reason: string, minLength: number}, onPin: (pin: string) => void) => void} showPin
 * @property {(outcome: Outcome, onChoice: (retry: boolean) => void) => void} showOutcome
 *   the success or error screen; onChoice(true) is "Try again", onChoice(false) "Close"
 * @property {(stream: MediaStream) => void} attachStream
 * @property {(key: string) => void} status shows a string of the locale table in the live region
 * @property {(fraction: number) => void} progress 0…1
 * @property {() => void} close removes the dialog and gives focus back
 */

/**
 * Creates an element.
 * @param {Document} doc
 * @param {string} tag
 * @param {Record<string, string>} [attrs] attributes; `text` sets the text content
 * @param {Node[]} [children]
 * @returns {HTMLElement}
 */
function h(doc, tag, attrs = {}, children = []) {
  const el = doc.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'text') el.textContent = value;
    else el.setAttribute(name, value);
  }
  el.append(...children);
  return el;
}

/**
 * An http(s) URL, or null (a notice link must not run script).
 * @param {unknown} value
 * @returns {string|null}
 */
export function safeLink(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Opens the dialog over the page.
 * @param {Document} doc
 * @param {{op: 'enroll'|'authenticate', locale: string, onAbort: () => void}} options
 * @returns {UI}
 * @throws {Error} when the document has no body yet
 */
export function createUI(doc, { op, locale, onAbort }) {
  if (!doc.body) throw new Error('document.body is not ready');
  const t = translator(locale);
  const el = (/** @type {string} */ tag, /** @type {Record<string, string>} */ attrs, /** @type {Node[]} */ ...kids) =>
    h(doc, tag, attrs, kids);

  const video = /** @type {HTMLVideoElement} */ (el('video', { 'aria-label': t('camera_preview') }));
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  const oval = el('div', { class: 'oval', 'aria-hidden': 'true' });
  const consentTitle = el('h3', { id: 'lk-consent-title', tabindex: '-1' });
  const noticeText = el('div', { class: 'notice', tabindex: '0', role: 'region', 'aria-labelledby': 'lk-consent-title' });
  const privacy = el('a', { class: 'privacy', target: '_blank', rel: 'noopener noreferrer', text: t('privacy_link') });
  const decline = el('button', { type: 'button', class: 'secondary', 'data-testid': 'consent-decline', text: t('consent_decline') });
  const accept = el('button', { type: 'button', class: 'primary', 'data-testid': 'consent-accept', text: t('consent_accept') });
  const pinLabel = el('label', { for: 'lk-pin' });
  const pinInput = /** @type {HTMLInputElement} */ (el('input', {
    id: 'lk-pin', type: 'password', inputmode: 'numeric', pattern: '[0-9]*', autocomplete: 'off',
    'aria-describedby': 'lk-pin-error', 'data-testid': 'pin-input',
  }));
  const pinError = el('p', { id: 'lk-pin-error', class: 'error', 'aria-live': 'assertive' });
  const pinForm = /** @type {HTMLFormElement} */ (el('form', { novalidate: '' }, pinLabel, pinInput, pinError,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary', 'data-testid': 'pin-submit', text: t('pin_submit') }))));
  const statusLine = el('p', { id: 'lk-status', class: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const bar = el('div', { class: 'bar' });
  const progressBar = el('div', {
    class: 'progress', role: 'progressbar', 'aria-label': t('progress'),
    'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0',
  }, bar);
  const abort = el('button', { type: 'button', class: 'secondary', 'data-testid': 'abort', text: t('cancel') });
  const outcomeIcon = el('div', { class: 'mark', 'aria-hidden': 'true' });
  const outcomeText = el('p', { class: 'message', role: 'status', tabindex: '-1', 'data-testid': 'outcome' });
  const retry = el('button', { type: 'button', class: 'primary', 'data-testid': 'outcome-retry', text: t('try_again') });
  const closeOutcome = el('button', { type: 'button', class: 'secondary', 'data-testid': 'outcome-close', text: t('close') });
  const outcomeActions = el('div', { class: 'actions' }, closeOutcome, retry);

  const screens = {
    intro: el('section', { class: 'intro' }, el('div', { class: 'intro-oval', 'aria-hidden': 'true' }), el('p', { text: t('intro_enroll') })),
    camera: el('section', {}, el('div', { class: 'stage' }, video, oval)),
    consent: el('section', {}, consentTitle, noticeText, privacy, el('div', { class: 'actions' }, decline, accept)),
    pin: el('section', {}, pinForm),
    outcome: el('section', { class: 'outcome' }, outcomeIcon, outcomeText, outcomeActions),
  };
  const dialog = el('div', {
    class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'lk-title',
    'aria-describedby': 'lk-status', tabindex: '-1', lang: locale, dir: direction(locale),
  }, el('h2', { id: 'lk-title', text: t(op === 'enroll' ? 'title_enroll' : 'title_authenticate') }),
  ...Object.values(screens), statusLine, progressBar, el('div', { class: 'footer' }, abort));
  const backdrop = el('div', { class: 'backdrop' }, dialog);

  const host = el('div', { 'data-likeness-widget': '' });
  const root = host.attachShadow({ mode: 'open' });
  applyStyles(root);
  root.append(backdrop);

  const previousFocus = /** @type {HTMLElement|null} */ (doc.activeElement);

  /** @returns {HTMLElement[]} the elements Tab cycles through, in order */
  const focusables = () => /** @type {HTMLElement[]} */ ([...dialog.querySelectorAll('button, a[href], input, [tabindex="0"]')])
    .filter((x) => !x.closest('[hidden]') && !(/** @type {HTMLButtonElement} */ (x).disabled));

  /** @param {KeyboardEvent} e */
  const onKeydown = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onAbort();
    } else if (e.key === 'Tab') {
      const list = focusables();
      const i = list.indexOf(/** @type {HTMLElement} */ (root.activeElement));
      e.preventDefault();
      const next = i < 0 ? (e.shiftKey ? list.length - 1 : 0) : (i + (e.shiftKey ? list.length - 1 : 1)) % list.length;
      list[next].focus();
    }
  };
  /** Keeps focus inside the dialog. @param {FocusEvent} e */
  const onFocusIn = (e) => {
    if (e.target !== host) dialog.focus();
  };
  doc.addEventListener('keydown', onKeydown, true);
  doc.addEventListener('focusin', onFocusIn, true);
  backdrop.addEventListener('mousedown', (e) => {
    if (e.target === backdrop) e.preventDefault();
  });
  abort.addEventListener('click', () => onAbort());

  /**
   * Shows one screen and moves focus to `focusTarget`, or to the dialog when
   * the focused element was hidden.
   * @param {keyof typeof screens} name
   * @param {HTMLElement} [focusTarget]
   */
  const show = (name, focusTarget) => {
    for (const [key, section] of Object.entries(screens)) section.hidden = key !== name;
    dialog.setAttribute('data-screen', name);
    const active = /** @type {HTMLElement|null} */ (root.activeElement);
    if (focusTarget) focusTarget.focus();
    else if (!active || active.closest('[hidden]')) dialog.focus();
  };

  doc.body.append(host);
  show('camera');
  dialog.focus();

  let currentStatus = '';
  return {
    video,
    showIntro: () => show('intro'),
    showCamera: () => show('camera'),
    showConsent(notice, onAnswer) {
      consentTitle.textContent = notice.title;
      noticeText.textContent = notice.text;
      for (const part of [consentTitle, noticeText]) {
        if (notice.locale) part.setAttribute('lang', notice.locale);
        else part.removeAttribute('lang');
      }
      const href = safeLink(notice.privacyUrl);
      privacy.hidden = !href;
      if (href) privacy.setAttribute('href', href);
      else privacy.removeAttribute('href');
      /** @param {boolean} yes */
      const answer = (yes) => {
        accept.onclick = decline.onclick = null;
        onAnswer(yes);
      };
      accept.onclick = () => answer(true);
      decline.onclick = () => answer(false);
      show('consent', consentTitle);
    },
    showPin({ reason, minLength }, onPin) {
      const key = ['enroll', 'confirm', 'authenticate', 'retry', 'unique'].includes(reason) ? reason : 'authenticate';
      pinLabel.textContent = t('pin_' + key, { n: minLength });
      pinInput.value = '';
      pinInput.minLength = minLength;
      pinInput.removeAttribute('aria-invalid');
      pinError.textContent = '';
      pinForm.onsubmit = (e) => {
        e.preventDefault();
        const pin = pinInput.value.trim();
        if (!/^[0-9]+$/.test(pin) || pin.length < minLength) {
          pinInput.setAttribute('aria-invalid', 'true');
          pinError.textContent = t('pin_invalid', { n: minLength });
          pinInput.focus();
          return;
        }
        pinForm.onsubmit = (ev) => ev.preventDefault();
        onPin(pin);
      };
      show('pin', pinInput);
    },
    showOutcome({ ok, op, code, retry: offerRetry, wait }, onChoice) {
      outcomeIcon.textContent = ok ? '✓' : '!';
      outcomeIcon.className = ok ? 'mark ok' : 'mark';
      outcomeText.textContent = ok ? t(op === 'enroll' ? 'done_enroll' : 'done_authenticate')
        : wait ? t('err_15_wait', { n: wait }) : t(errorMessageKey(code));
      retry.hidden = !offerRetry;
      closeOutcome.hidden = ok;
      outcomeActions.hidden = ok; // a success closes by itself
      /** @param {boolean} again */
      const choose = (again) => {
        retry.onclick = closeOutcome.onclick = null;
        onChoice(again);
      };
      retry.onclick = () => choose(true);
      closeOutcome.onclick = () => choose(false);
      video.srcObject = null;
      show('outcome', offerRetry ? retry : outcomeText);
    },
    attachStream(stream) {
      video.srcObject = stream;
      video.play().catch(() => {});
    },
    status(key) {
      if (key === currentStatus) return;
      currentStatus = key;
      statusLine.textContent = t(key);
      oval.classList.toggle('ok', key === 'ok');
    },
    progress(fraction) {
      const percent = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
      bar.style.width = percent + '%';
      progressBar.setAttribute('aria-valuenow', String(percent));
    },
    close() {
      doc.removeEventListener('keydown', onKeydown, true);
      doc.removeEventListener('focusin', onFocusIn, true);
      video.srcObject = null;
      host.remove();
      if (previousFocus && previousFocus.isConnected && typeof previousFocus.focus === 'function') previousFocus.focus();
    },
  };
}
