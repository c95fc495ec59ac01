// Helpers the front-end components share (player.js, picture.js); visualization/frontend.py puts this file first
// in each component's js_on_load.

// A new element with a class, attributes and (optionally) a parent to append it to.
function m2el(tag, className, parent, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (parent) parent.appendChild(node);
  return node;
}

// The URL of a media value: a string as is, or the url Gradio gave a FileData once it served the file.
function m2source(value) {
  return typeof value === "string" ? value : value && value.url;
}
