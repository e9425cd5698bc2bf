// The create forms of /teach/: the slug follows the title as the author types it, until the
// author edits the slug (the server fills a blank one, unique, by the same rule as slugify).
function slugify(text) {
  return text
    .normalize("NFKD")
    .replace(/[^\x00-\x7f]/g, "")
    .toLowerCase()
    .replace(/[^\w\s-]/g, "")
    .replace(/[-\s]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "");
}

document.querySelectorAll("input[data-slug-of]").forEach((slug) => {
  const title = slug.form.elements[slug.dataset.slugOf];
  let followed = slug.value === "" || slug.value === slugify(title.value);
  slug.addEventListener("input", () => {
    followed = slug.value === "";
  });
  title.addEventListener("input", () => {
    if (followed) slug.value = slugify(title.value).slice(0, slug.maxLength);
  });
});
