// Likeness console and privacy page: small enhancements over server-rendered
// pages. Every console page works without this script; the privacy page
// needs it (and /fio.js) to verify a person with their camera.
(() => {
  'use strict';

  /** Announces text in a live region next to el, then clears it. */
  function say(el, text) {
    let live = el.parentElement.querySelector('.copy-status');
    if (!live) {
      live = document.createElement('span');
      live.className = 'copy-status';
      live.setAttribute('role', 'status');
      el.after(live);
    }
    live.textContent = text;
    setTimeout(() => { live.textContent = ''; }, 3000);
  }

  // Copy buttons: <button data-copy="id-of-element">.
  for (const btn of document.querySelectorAll('button[data-copy]')) {
    btn.addEventListener('click', async () => {
      const source = document.getElementById(btn.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent);
        say(btn, 'Copied');
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        say(btn, 'Selected: press Ctrl+C to copy');
      }
    });
  }

  // Destructive forms: the typed name (data-confirm-value) and the ticked
  // box must be right before the form is sent; the server checks again.
  for (const form of document.querySelectorAll('form[data-confirm-form]')) {
    form.addEventListener('submit', (event) => {
      const typed = form.querySelector('[data-confirm-value]');
      const box = form.querySelector('input[type=checkbox][name=confirm]');
      let problem = null;
      if (typed && typed.value.trim() !== typed.dataset.confirmValue) problem = typed;
      else if (box && !box.checked) problem = box;
      if (!problem) return;
      event.preventDefault();
      problem.setAttribute('aria-invalid', 'true');
      problem.focus();
    });
  }

  // Forms that ask before they act: data-confirm-message="…".
  for (const form of document.querySelectorAll('form[data-confirm-message]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirmMessage)) event.preventDefault();
    });
  }

  // A form's error message takes the focus, so screen readers read it first.
  const problem = document.getElementById('form-error') || document.getElementById('privacy-failed');
  if (problem) problem.focus();

  // The privacy page: authenticate with the widget, then send its result
  // token to the server, which checks it and opens a short session.
  const verify = document.querySelector('[data-privacy-verify]');
  if (verify) {
    const status = document.getElementById('privacy-status');
    const form = document.getElementById('privacy-token-form');
    const failed = 'We could not verify you. If you are enrolled with this site, try again in good light, looking straight at the camera.';
    // Problems show as an alert (styled as the page's other errors); the
    // status line says what is going on.
    const alert = document.getElementById('privacy-error');
    const fail = (text) => {
      status.textContent = '';
      alert.textContent = text;
      alert.hidden = false;
    };
    verify.addEventListener('click', async () => {
      alert.hidden = true;
      alert.textContent = '';
      if (typeof window.faceIO !== 'function') {
        fail('The face check could not load. Reload the page and try again.');
        return;
      }
      verify.disabled = true;
      status.textContent = 'Look at your camera…';
      try {
        const user = await new window.faceIO(verify.dataset.publicId, { purpose: 'privacy' }).authenticate({ locale: 'auto' });
        status.textContent = 'Verified. Opening your data…';
        form.elements.token.value = user.token;
        form.submit();
      } catch (code) {
        verify.disabled = false;
        if (code === 1) fail('Your camera could not be used. Allow it for this page, then try again.');
        else if (code === 13) status.textContent = 'You closed the check. Press the button to try again.';
        else fail(failed);
        verify.focus();
      }
    });
  }
})();
