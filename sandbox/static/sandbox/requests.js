// What the page says when an htmx request does not get its answer, instead of nothing.
"use strict";

// The session has ended (logged out in another tab, or expired): the request was sent to
// the login page, or refused by the CSRF check (403). Never swap that page into a part of
// this one (the whole login page landed in the result box): swap nothing, and say once, at
// the bottom of the screen, that nothing was sent, with a way to log in again and come back
// here. What the user typed stays on the page to copy.
document.addEventListener("htmx:beforeSwap", (event) => {
  const login = document.body.dataset.loginUrl;
  const xhr = event.detail.xhr;
  const redirected = login && new URL(xhr.responseURL, location.href).pathname === login;
  if (!redirected && xhr.status !== 403) return;
  event.detail.shouldSwap = false;
  event.detail.isError = false; // said here, not again as a failed request below
  if (document.getElementById("session-ended")) return;
  const note = document.createElement("div");
  note.id = "session-ended";
  note.className = "alert error session-ended";
  note.setAttribute("role", "alert");
  const text = document.createElement("p");
  text.textContent = "Your session has ended (logged out in another tab, or expired), so this was not sent. Copy anything you wrote, then ";
  const link = document.createElement("a");
  link.href = `${login}?next=${encodeURIComponent(location.pathname + location.search)}`;
  link.textContent = "log in again";
  text.append(link, ".");
  note.append(text);
  document.body.append(note);
});

// The server stopped, or answered with an error page: the learner's Submit would seem to do
// nothing, and a result being polled to wait for ever. Say so where the answer would have
// gone; the next answer replaces the note (a poll keeps trying by itself).
function noteFailedRequest(event, text) {
  const target = event.detail.target;
  if (!target) return;
  const said = target.querySelector(":scope > .request-failed");
  if (said && said.textContent === text) return; // an alert rewritten at every poll is read again
  const note = said || document.createElement("p");
  note.className = "alert error request-failed";
  note.setAttribute("role", "alert");
  note.textContent = text;
  if (!said) target.appendChild(note);
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  // 404: what this page shows is gone since it opened (an instructor archived or unpublished
  // the exercise, or took the learner off the course): trying again would not help.
  noteFailedRequest(event, status === 404
    ? "This is no longer open to you (it may have been archived or unpublished since this page opened): nothing was sent. Reload the page to see what is open."
    : `The server could not answer (error ${status}). Try again in a moment.`);
});
document.addEventListener("htmx:sendError", (event) => {
  const trigger = event.detail.elt.getAttribute("hx-trigger") || "";
  const polling = /^every /.test(trigger); // a poll keeps asking; a search or a submit does not
  noteFailedRequest(event, polling
    ? "The server cannot be reached; this page keeps trying and updates once it is back."
    : "The server cannot be reached: nothing was sent. Is it running? Try again in a moment.");
});
