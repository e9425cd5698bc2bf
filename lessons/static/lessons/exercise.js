// Ctrl+Enter (Cmd+Enter on a Mac) in a prompt field submits the exercise's form, as in the
// model consoles learners know. A file, not an htmx trigger filter: the CSP allows no eval.
document.addEventListener("keydown", (event) => {
  const form = event.target.closest && event.target.closest("#prompt-form");
  if (form && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});
