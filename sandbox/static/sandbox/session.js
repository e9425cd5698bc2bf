// When the session has ended (logged out in another tab, or expired), an htmx request is
// sent to the login page, or refused by the CSRF check (403). Never swap that page into a
// part of this one (the whole login page landed in the result box): swap nothing, and say
// once, at the bottom of the screen, that nothing was sent, with a way to log in again and
// come back here. What the user typed stays on the page to copy.
document.addEventListener("htmx:beforeSwap", (event) => {
  const login = document.body.dataset.loginUrl;
  const xhr = event.detail.xhr;
  const redirected = login && new URL(xhr.responseURL, location.href).pathname === login;
  if (!redirected && xhr.status !== 403) return;
  event.detail.shouldSwap = false;
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
