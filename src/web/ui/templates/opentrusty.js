// OpenTrusty account pages: the "Copy codes" button of the recovery codes page. Without
// JavaScript the button stays hidden and the codes can be selected from the text box.
"use strict";
(function () {
  var button = document.getElementById("copy-codes");
  var text = document.getElementById("recovery-codes-text");
  var status = document.getElementById("copy-status");
  if (!button || !text || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(text.value).then(function () {
      status.textContent = "Copied.";
    }, function () {
      text.select();
      status.textContent = "Select the codes and copy them.";
    });
  });
})();
