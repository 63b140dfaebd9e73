// OpenTrusty's one page script, served from the binary under a CSP without inline script.
// 1. The "Copy codes" button of the recovery codes page.
// 2. The passkey ceremonies (WebAuthn): adding a passkey on the account page, signing in with
//    one on the login page, using one as the second step. Each is a `[data-passkey]` block
//    that stays hidden unless this script runs in a browser that supports WebAuthn's JSON
//    helpers; every other path of the pages works without JavaScript.
"use strict";
(function () {
  function copyButton() {
    var button = document.getElementById("copy-codes");
    var text = document.getElementById("recovery-codes-text");
    var status = document.getElementById("copy-status");
    if (!button || !text || !status || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(text.value).then(function () {
        status.textContent = "Copied.";
      }, function () {
        text.select();
        status.textContent = "Select the codes and copy them.";
      });
    });
  }

  var supported = typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    !!navigator.credentials;

  // POSTs `body` as JSON to our own origin; resolves with the parsed answer, or rejects with
  // an Error carrying the server's message (and `next`, where the server names a page).
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) { return data; }
        var err = new Error(data.message || ("The server answered " + res.status + "."));
        err.next = data.next;
        throw err;
      });
    });
  }

  // What a browser's WebAuthn error means to the person at the screen.
  function explain(err) {
    switch (err && err.name) {
      case "NotAllowedError":
        return "The passkey request was cancelled or timed out. Try again.";
      case "InvalidStateError":
        return "This authenticator already holds a passkey for this account.";
      case "SecurityError":
        return "This site cannot use passkeys at this address.";
      default:
        return (err && err.message) || "Something went wrong. Try again.";
    }
  }

  function ceremony(block) {
    var kind = block.getAttribute("data-passkey");
    var form = block.querySelector("form");
    var status = block.querySelector("[data-passkey-status]");
    var button = form && form.querySelector("button");
    if (!form || !status || !button) { return; }
    block.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var csrf = form.querySelector("input[name=csrf]").value;
      var returnTo = form.querySelector("input[name=return_to]");
      var name = form.querySelector("input[name=name]");
      var start = { csrf: csrf };
      if (name) { start.name = name.value; }
      button.disabled = true;
      status.textContent = "Waiting for your passkey…";
      post(block.getAttribute("data-options"), start).then(function (started) {
        var publicKey = kind === "register"
          ? { publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(started.publicKey) }
          : { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(started.publicKey) };
        var made = kind === "register"
          ? navigator.credentials.create(publicKey)
          : navigator.credentials.get(publicKey);
        return made.then(function (credential) {
          status.textContent = "Checking…";
          return post(block.getAttribute("data-finish"), {
            csrf: csrf,
            ceremony: started.ceremony,
            credential: credential.toJSON(),
            return_to: returnTo ? returnTo.value : null
          });
        });
      }).then(function (done) {
        status.textContent = "Done.";
        window.location.assign(done.next);
      }).catch(function (err) {
        button.disabled = false;
        status.textContent = explain(err);
        if (err && err.next) { window.location.assign(err.next); }
      });
    });
  }

  function passkeys() {
    if (!supported) { return; }
    var blocks = document.querySelectorAll("[data-passkey]");
    for (var i = 0; i < blocks.length; i++) { ceremony(blocks[i]); }
  }

  copyButton();
  passkeys();
})();
