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

// Fill a tooltip: a colour swatch, "#id" in bold and `rest` on the first line, then one line per entry of `lines`
// (the last, Molmo2's 0-1000 values, dimmed). Styles: assets/shared.css.
function m2tip(tip, colour, id, rest, lines) {
  tip.replaceChildren();
  const head = m2el("div", "", tip);
  m2el("span", "m2-swatch", head).style.background = colour;
  m2el("b", "", head).textContent = `#${id}`;
  head.append(rest);
  lines.forEach((line, k) => {
    m2el("div", k === lines.length - 1 ? "m2-tip-k" : "", tip).textContent = line;
  });
}

// Show a tooltip at (x, y) pixels of its positioned parent (a w x h area), opening away from the nearest edges:
// above the mark when it fits there (shared.css: a 20 px gap), else below.
function m2place(tip, x, y, w, h) {
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
  tip.classList.toggle("m2-east", x < 0.2 * w);
  tip.classList.toggle("m2-west", x > 0.8 * w);
  tip.hidden = false;
  tip.classList.toggle("m2-below", y - tip.offsetHeight - 24 < 0 && y < h / 2);
}
