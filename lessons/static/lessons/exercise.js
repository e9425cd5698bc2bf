// Ctrl+Enter (Cmd+Enter on a Mac) in a prompt field submits the exercise's form (or runs the
// playground's), as in the model consoles learners know. A file, not an htmx trigger filter:
// the CSP allows no eval.
document.addEventListener("keydown", (event) => {
  const form = event.target.closest && event.target.closest("#prompt-form, #playground-form");
  if (form && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// A submit's answer lands in #result, below the task on a laptop and below the editor on a
// phone: out of sight, so the click seemed to do nothing. Bring the result's heading to the
// top when it is out of view (not when the submit was refused on the field: that swaps the
// form, not #result); the polls that follow swap #attempt-status and do not scroll.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id !== "result") return;
  const heading = document.getElementById("result-heading");
  const top = heading.getBoundingClientRect().top;
  if (top >= 0 && top < window.innerHeight - 160) return;
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  heading.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
});
