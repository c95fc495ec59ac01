// Pictures with a grounded answer (visualization/picture.py): the drawn PNG, and over each marker an invisible
// button that shows the point's id, label and coordinates on hover, keyboard focus or tap. The marks are burned
// into the picture; this file only adds the inspector. gr.HTML's js_on_load (after dom.js) calls
// mountPointPicture(element, props.value); any page may. Each figure has its own tooltip.

function mountPointPicture(host, data) {
  const el = m2el;
  const source = m2source;

  host.replaceChildren();
  const pictures = (data && data.pictures) || [];
  if (!pictures.length) {
    if (data && data.empty) el("div", "m2i-empty", host).textContent = data.empty;
    return;
  }
  const root = el("div", pictures.length > 1 ? "m2i m2i-grid" : "m2i", host);
  const [fraction, least] = data.marker || [0.025, 8];
  pictures.forEach((picture, index) => {
    const figure = el("figure", "m2i-figure", root);
    const frame = el("div", "m2i-frame", figure);
    const url = source(picture.src);
    el("img", "m2i-img", frame, {
      src: url,
      width: picture.width,
      height: picture.height,
      alt: `Image ${index + 1} with ${picture.points.length} marked point${picture.points.length === 1 ? "" : "s"}`,
    });
    const tip = el("div", "m2i-tip m2-tip", frame, { role: "tooltip", id: `m2i-tip-${Math.random().toString(36).slice(2)}` });
    tip.hidden = true;
    // The marker's radius in picture pixels (visualization/overlay.marker_radius), as a share of the width.
    const radius = Math.max(least, fraction * Math.min(picture.width, picture.height));
    const size = ((2.4 * radius) / picture.width) * 100;
    // The tooltip shows the marker under the mouse, else the focused one, else the pinned one (a tap pins it on
    // touch screens, which have no hover); a tap on the same marker or elsewhere on the picture, or Escape, unpins.
    const state = { hover: null, focus: null, pin: null, quiet: false };
    const render = () => {
      const on = state.quiet ? null : state.hover || state.focus || state.pin;
      for (const button of frame.querySelectorAll(".m2i-point")) button.removeAttribute("aria-describedby");
      if (!on) {
        tip.hidden = true;
        return;
      }
      const [button, point] = on;
      m2tip(tip, point.colour, point.id, ` ${point.label}`, [
        `x ${point.px[0]}, y ${point.px[1]} px`,
        `(${point.k[0]}, ${point.k[1]}) of 1000`,
      ]);
      m2place(tip, point.x * frame.clientWidth, point.y * frame.clientHeight, frame.clientWidth, frame.clientHeight);
      button.setAttribute("aria-describedby", tip.id);
    };
    const set = (changes) => {
      Object.assign(state, { quiet: false }, changes);
      render();
    };
    for (const point of picture.points) {
      const button = el("button", "m2i-point", frame, {
        type: "button",
        "aria-label": `point ${point.id}, ${point.label}, x ${point.px[0]}, y ${point.px[1]} pixels`,
        "data-id": String(point.id),
      });
      Object.assign(button.style, { left: `${point.x * 100}%`, top: `${point.y * 100}%`, width: `${size}%` });
      const mark = [button, point];
      // Hover is the mouse's only: a tap also sends compatibility mouse events, which would keep it shown.
      button.addEventListener("pointerenter", (event) => event.pointerType === "mouse" && set({ hover: mark }));
      button.addEventListener("pointerleave", (event) => event.pointerType === "mouse" && set({ hover: null }));
      button.addEventListener("focus", () => set({ focus: mark }));
      button.addEventListener("blur", () => set({ focus: null }));
      button.addEventListener("click", () => {
        if (state.pin && state.pin[0] === button) {
          button.blur(); // some browsers focus a tapped button: unpinning must hide it
          set({ pin: null, focus: null });
        } else set({ pin: mark });
      });
    }
    frame.addEventListener("pointerdown", (event) => {
      if (!event.target.closest(".m2i-point")) set({ pin: null });
    });
    frame.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      state.pin = null;
      state.quiet = true; // until the next hover, focus or tap
      render();
    });
    const caption = el("figcaption", "m2i-caption", figure);
    if (picture.caption) el("span", "m2i-count", caption).textContent = picture.caption;
    const open = el("a", "m2i-link", caption, { href: url, target: "_blank", rel: "noopener" });
    open.textContent = "Full size \u2197";
    const save = el("a", "m2i-link", caption, { href: url, download: picture.name || `image_${index + 1}.png` });
    save.textContent = "Download \u2913";
  });
}
