// The API reference at /docs, drawn from the app's own /openapi.json: no CDN, works offline.
"use strict";
(async function () {
  const box = document.getElementById("endpoints");
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) { e.textContent = text; } if (cls) { e.className = cls; } return e; };
  let spec;
  try { spec = await (await fetch("/openapi.json")).json(); } catch (e) { box.textContent = "cannot read /openapi.json"; return; }
  box.textContent = "";
  const intro = el("p", spec.info.description || "", "card");
  box.appendChild(intro);
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const card = el("section", "", "card");
      const head = el("h3");
      head.appendChild(el("code", method.toUpperCase() + " " + path));
      card.appendChild(head);
      if (op.summary) { card.appendChild(el("p", op.summary)); }
      const params = (op.parameters || []).map((p) => p.name + " (" + p.in + (p.required ? ", required" : "") + ")" +
        (p.description ? ": " + p.description : ""));
      if (params.length) { card.appendChild(el("p", "Parameters: " + params.join("; "), "muted")); }
      if (op.requestBody) { card.appendChild(el("p", "Body: " + Object.keys(op.requestBody.content).join(" or "), "muted")); }
      const list = el("ul", "", "small");
      for (const [code, r] of Object.entries(op.responses || {})) { list.appendChild(el("li", code + ": " + (r.description || ""))); }
      card.appendChild(list);
      box.appendChild(card);
    }
  }
})();
