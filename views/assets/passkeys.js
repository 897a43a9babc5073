/* global window, document, navigator, atob, btoa */
// Gatehouse passkeys: the browser half of WebAuthn, with no library. A form marked `data-passkey="create"` or
// `data-passkey="get"` carries the options the server made (`data-options`, JSON with base64url binary fields);
// its button calls navigator.credentials, puts the answer (JSON, base64url again) into the hidden `credential`
// field and posts the form. The server checks everything; this script only carries bytes. Served from /assets
// under the pages' `script-src 'self'`: no inline script.
(function () {
  'use strict';

  function fromBase64url(value) {
    var base64 = value.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) base64 += '=';
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return undefined;
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type || 'public-key', id: fromBase64url(item.id), transports: item.transports };
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64url(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJson(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults()
        : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) json.response.transports = response.getTransports();
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      json.response.userHandle = toBase64url(response.userHandle);
    }
    return JSON.stringify(json);
  }

  function showError(form, message) {
    var target = form.querySelector('.passkey-error');
    if (!target) return;
    target.textContent = message;
    target.classList.add('error');
    target.hidden = false;
  }

  function start(form) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError(form, 'This browser does not support passkeys.');
      return;
    }
    var options = JSON.parse(form.getAttribute('data-options'));
    var ceremony =
      form.getAttribute('data-passkey') === 'create'
        ? navigator.credentials.create({ publicKey: creationOptions(options) })
        : navigator.credentials.get({ publicKey: requestOptions(options) });
    ceremony.then(
      function (credential) {
        form.querySelector('input[name="credential"]').value = credentialJson(credential);
        var rememberFrom = form.getAttribute('data-remember-from');
        var remember = form.querySelector('input[name="remember"]');
        if (rememberFrom && remember) {
          var source = document.getElementById(rememberFrom);
          remember.value = source && source.checked ? 'yes' : '';
          if (!remember.value) remember.remove();
        }
        form.submit();
      },
      function (error) {
        showError(
          form,
          error && error.name === 'NotAllowedError'
            ? 'The passkey request was cancelled or timed out. Try again.'
            : 'Your passkey could not be used: ' + (error && error.message ? error.message : 'unknown error'),
        );
      },
    );
  }

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    if (!window.PublicKeyCredential) {
      form.hidden = true;
      return;
    }
    form.addEventListener('submit', function (event) {
      if (form.querySelector('input[name="credential"]').value) return;
      event.preventDefault();
      start(form);
    });
  });
})();
