/* Passkeys in the browser (WebAuthn level 2): the portal's options are turned into the
   navigator.credentials call, and its answer, as JSON, into a field of the form, which is then
   sent as any other form. Served from /assets (the pages' CSP allows no inline script). */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function asJson(credential) {
    if (typeof credential.toJSON === "function") { return credential.toJSON(); }
    var response = credential.response, out = {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = toText(response.userHandle);
    }
    return out;
  }

  function options(form, headers, body) {
    return fetch(form.dataset.optionsUrl, {
      method: "POST", credentials: "same-origin", headers: headers, body: body
    }).then(function (answer) {
      if (!answer.ok) { throw new Error("options " + answer.status); }
      return answer.json();
    });
  }

  function ceremony(form, field, run) {
    form.addEventListener("submit", function (event) {
      if (form.elements[field].value) { return; }  // the credential is there: send the form
      event.preventDefault();
      var status = form.querySelector(".passkey-status");
      if (!window.PublicKeyCredential) { status.textContent = form.dataset.failed; return; }
      run().then(function (credential) {
        form.elements[field].value = JSON.stringify(asJson(credential));
        form.submit();
      }).catch(function () { status.textContent = form.dataset.failed; });
    });
  }

  document.querySelectorAll("form.js-passkey-register").forEach(function (form) {
    ceremony(form, "credential", function () {
      return options(form, { "X-CSRF-Token": form.dataset.csrf }).then(function (o) {
        o.challenge = toBytes(o.challenge);
        o.user.id = toBytes(o.user.id);
        o.excludeCredentials = descriptors(o.excludeCredentials);
        return navigator.credentials.create({ publicKey: o });
      });
    });
  });

  document.querySelectorAll("form.js-passkey-sign-in").forEach(function (form) {
    ceremony(form, "passkey", function () {
      var body = JSON.stringify(form.dataset.mfaToken ? { mfa_token: form.dataset.mfaToken } : {});
      return options(form, { "Content-Type": "application/json" }, body).then(function (o) {
        o.challenge = toBytes(o.challenge);
        o.allowCredentials = descriptors(o.allowCredentials);
        return navigator.credentials.get({ publicKey: o });
      });
    });
  });
}());
