/**
 * The demo page: one button per operation, the outcome shown as JSON in
 * #result. The public ID comes from ?publicId=… or from the
 * likeness-public-id meta tag (filled in by the server).
 */
(function () {
  'use strict';
  var query = new URLSearchParams(window.location.search);
  var meta = document.querySelector('meta[name="likeness-public-id"]');
  var publicId = query.get('publicId') || (meta && meta.getAttribute('content')) || '';
  var faceio = new window.faceIO(publicId);
  var names = {};
  Object.keys(window.fioErrCode).forEach(function (name) {
    names[window.fioErrCode[name]] = name;
  });
  var result = document.getElementById('result');

  /** Shows a value as its JSON text. */
  function show(value) {
    result.textContent = JSON.stringify(value);
  }

  /** Shows the outcome of an operation. */
  function report(promise) {
    promise.then(show, function (code) {
      show({ error: code, name: names[code] || 'UNKNOWN' });
    });
  }

  document.getElementById('enroll').addEventListener('click', function () {
    report(faceio.enroll({ locale: 'auto', payload: { demo: true, at: new Date().toISOString() } }));
  });
  document.getElementById('authenticate').addEventListener('click', function () {
    report(faceio.authenticate({ locale: 'auto' }));
  });
})();
