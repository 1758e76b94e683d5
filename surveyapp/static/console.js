// Console: ask before destructive or irreversible actions (forms or buttons with data-confirm).
// Loaded as a file (the Content-Security-Policy forbids inline scripts); without JavaScript the
// forms still work, just without the question.
document.addEventListener("submit", function (event) {
  var submitter = event.submitter;
  var message = (submitter && submitter.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
