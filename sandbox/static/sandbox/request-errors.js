// A request htmx cannot complete (the server stopped, or answered with an error page) would
// otherwise change nothing: the learner's Submit seems to do nothing, and a result being
// polled seems to wait for ever. Say so where the answer would have gone; the next answer
// replaces the note (a poll keeps trying by itself).
"use strict";
function noteFailedRequest(event, text) {
  const target = event.detail.target;
  if (!target) return;
  const note = target.querySelector(":scope > .request-failed") || document.createElement("p");
  note.className = "alert error request-failed";
  note.setAttribute("role", "alert");
  note.textContent = text;
  target.appendChild(note);
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  noteFailedRequest(event, `The server could not answer (error ${status}). Try again in a moment.`);
});
document.addEventListener("htmx:sendError", (event) => {
  const polling = event.detail.requestConfig.verb === "get";
  noteFailedRequest(event, polling
    ? "The server cannot be reached; this page keeps trying and updates once it is back."
    : "The server cannot be reached: nothing was sent. Is it running? Try again in a moment.");
});
