// Widget models and the few views the coding dashboard uses (ipywidgets 8 protocol), plus an
// anywidget host: the CodingWidget's coding.js runs unchanged against the same model API (get,
// set, save_changes, on/off "change:x" and "msg:custom", send). Anything else is shown as a link
// to the full page, never as a silent blank.

export const FULL_PAGE = "?template=lab";
const REF = "IPY_MODEL_";

export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function equal(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => equal(a[k], b[k]));
}

// ipywidgets' _put_buffers: each path names where a binary buffer goes in the state.
export function putBuffers(state, paths, buffers) {
  (paths || []).forEach((path, i) => {
    let obj = state;
    for (const key of path.slice(0, -1)) obj = obj[key];
    obj[path[path.length - 1]] = buffers[i];
  });
}

export class Model {
  constructor(manager, id, state) {
    this.manager = manager;
    this.model_id = id;
    this.attrs = { ...state };
    this.listeners = new Map();
    this.dirty = new Set();
    this.widget_manager = manager;
  }
  get name() { return this.attrs._model_name; }
  get(key) { return this.attrs[key]; }
  set(key, value) {
    const changes = typeof key === "object" ? key : { [key]: value };
    let any = false;
    for (const [k, v] of Object.entries(changes)) {
      if (equal(this.attrs[k], v)) continue;
      this.attrs[k] = v;
      this.dirty.add(k);
      any = true;
      this.emit(`change:${k}`, this, v);
    }
    if (any) this.emit("change", this);
  }
  save_changes() {
    if (!this.dirty.size) return;
    const state = {};
    for (const k of this.dirty) state[k] = this.attrs[k];
    this.dirty.clear();
    this.manager.link.commMsg(this.model_id, { method: "update", state, buffer_paths: [] });
  }
  send(content, _callbacks, buffers) {
    if (buffers && buffers.length) console.warn("weshare: buffers are not sent from this page");
    this.manager.link.commMsg(this.model_id, { method: "custom", content });
  }
  on(event, callback) {
    for (const name of event.split(/\s+/)) {
      if (!this.listeners.has(name)) this.listeners.set(name, new Set());
      this.listeners.get(name).add(callback);
    }
  }
  off(event, callback) {
    if (!event) { this.listeners.clear(); return; }
    for (const name of event.split(/\s+/)) {
      if (callback) this.listeners.get(name)?.delete(callback);
      else this.listeners.delete(name);
    }
  }
  emit(event, ...args) {
    for (const callback of [...(this.listeners.get(event) || [])]) {
      try { callback(...args); } catch (e) { console.error("weshare: widget listener failed", e); }
    }
  }
  update(state) {  // from the kernel: no echo back
    for (const [k, v] of Object.entries(state)) {
      this.attrs[k] = v;
      this.dirty.delete(k);
    }
    for (const k of Object.keys(state)) this.emit(`change:${k}`, this, state[k]);
    this.emit("change", this);
  }
}

export class Manager {
  constructor(link) {
    this.link = link;
    this.models = new Map();
    this.waiting = new Map();
    this.controlId = null;
    this.statesArrived = new Promise((resolve) => { this.gotStates = resolve; });
    this.modules = new Map();
  }

  requestStates() {
    this.controlId = this.link.newId();
    this.link.openComm(this.controlId, "jupyter.widget.control", {}, { version: "1.0.0" });
    this.link.commMsg(this.controlId, { method: "request_states" });
    return this.statesArrived;
  }

  upsert(id, state) {
    const known = this.models.get(id);
    if (known) { known.update(state); return known; }
    const model = new Model(this, id, state);
    this.models.set(id, model);
    if (model.name === "AnyModel") performance.mark("wsl-anywidget");  // where an open's time goes
    for (const resolve of this.waiting.get(id) || []) resolve(model);
    this.waiting.delete(id);
    return model;
  }

  handle(type, content, buffers) {
    const data = content.data || {};
    if (type === "comm_open" && content.target_name === "jupyter.widget") {
      putBuffers(data.state, data.buffer_paths, buffers);
      this.upsert(content.comm_id, data.state || {});
    } else if (type === "comm_msg" && content.comm_id === this.controlId) {
      if (data.method !== "update_states") return;
      putBuffers(data.states, data.buffer_paths, buffers);
      for (const [id, entry] of Object.entries(data.states || {})) {
        this.upsert(id, { _model_name: entry.model_name, _model_module: entry.model_module, ...entry.state });
      }
      performance.mark("wsl-states");
      this.gotStates();
    } else if (type === "comm_msg") {
      const model = this.models.get(content.comm_id);
      if (!model) return;
      if (data.method === "update") {
        putBuffers(data.state, data.buffer_paths, buffers);
        model.update(data.state || {});
      } else if (data.method === "custom") {
        model.emit("msg:custom", data.content, buffers);
      }  // echo_update: our own change coming back, already applied here
    } else if (type === "comm_close") {
      const model = this.models.get(content.comm_id);
      if (model) { model.emit("destroy"); this.models.delete(content.comm_id); }
    }
  }

  // A model by id or "IPY_MODEL_<id>"; waits for it (its state may still be on its way).
  model(ref) {
    const id = String(ref).startsWith(REF) ? String(ref).slice(REF.length) : String(ref);
    if (this.models.has(id)) return Promise.resolve(this.models.get(id));
    return new Promise((resolve) => {
      if (!this.waiting.has(id)) this.waiting.set(id, []);
      this.waiting.get(id).push(resolve);
    });
  }

  // A view's element at once; filled when its model is known.
  view(ref) {
    const el = h("div", "wsl-widget");
    let cleanup = null, gone = false;
    this.model(ref).then((model) => {
      if (gone) return;
      try {
        cleanup = render(this, model, el);
      } catch (e) {
        console.error("weshare: view failed", e);
        el.replaceChildren(unsupported());
      }
    });
    return { el, remove: () => { gone = true; if (typeof cleanup === "function") cleanup(); el.remove(); } };
  }

  async esm(model) {  // anywidget's way: the module text as a blob: import (allowed by the page policy)
    const source = model.get("_esm");
    const key = model.get("_anywidget_id") || source;
    if (!this.modules.has(key)) {
      const url = /^https?:\/\//.test(source) ? source
        : URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      this.modules.set(key, import(url).then(async (mod) => {
        const def = mod.default ?? mod;
        return typeof def === "function" ? await def() : def;
      }));
    }
    return this.modules.get(key);
  }
}

export function unsupported() {
  const p = h("p", "wsl-unsupported", "Cet élément s'affiche dans la page complète. ");
  const en = h("span", "", "/ This item is shown in the full page. ");
  en.lang = "en";
  const a = h("a", "", "Ouvrir la page complète / Open the full page");
  a.href = FULL_PAGE;
  p.append(en, a);
  return p;
}

function applyLayout(manager, model, el) {
  const ref = model.get("layout");
  if (!ref) return;
  manager.model(ref).then((layout) => {
    const apply = () => {
      for (const k of ["width", "min_width", "max_width", "height", "margin", "padding", "display", "flex"]) {
        const v = layout.get(k);
        if (v) el.style.setProperty(k.replace("_", "-"), v);
      }
      el.hidden = layout.get("visibility") === "hidden";
    };
    apply();
    layout.on("change", apply);
  });
}

function described(model, control) {
  const text = model.get("description");
  if (!text) return control;
  const label = h("label", "wsl-described");
  label.append(h("span", "wsl-description", text), control);
  return label;
}

function box(manager, model, el) {
  el.classList.add(model.name === "HBoxModel" ? "wsl-hbox" : "wsl-vbox");
  let views = new Map();
  const draw = () => {
    const refs = model.get("children") || [];
    if (refs.length === views.size && refs.every((r, i) => [...views.keys()][i] === r)) return;
    const next = new Map();
    for (const ref of refs) next.set(ref, views.get(ref) || manager.view(ref));
    for (const [ref, v] of views) if (!next.has(ref)) v.remove();
    el.replaceChildren(...[...next.values()].map((v) => v.el));
    views = next;
  };
  draw();
  model.on("change:children", draw);
  return () => { for (const v of views.values()) v.remove(); };
}

function html(_manager, model, el) {
  const body = h("div", "wsl-html");
  const draw = () => {
    if (model.name === "LabelModel") body.textContent = model.get("value") || "";
    else body.innerHTML = model.get("value") || "";  // built and escaped by our Python, as ipywidgets.HTML
    el.replaceChildren(described(model, body));
  };
  draw();
  model.on("change:value", draw);
}

function dropdown(_manager, model, el) {
  const select = h("select", "wsl-select");
  const draw = () => {
    select.replaceChildren(...(model.get("_options_labels") || []).map((label, i) => new Option(label, String(i))));
    const index = model.get("index");
    select.selectedIndex = index === null || index === undefined ? -1 : index;
    select.disabled = !!model.get("disabled");
  };
  select.onchange = () => { model.set("index", Number(select.value)); model.save_changes(); };
  draw();
  model.on("change:_options_labels change:index change:disabled", draw);
  el.replaceChildren(described(model, select));
}

function button(_manager, model, el) {
  const b = h("button", "wsl-button");
  b.type = "button";
  const draw = () => {
    b.textContent = model.get("description") || "";
    b.title = model.get("tooltip") || "";
    b.disabled = !!model.get("disabled");
    b.dataset.style = model.get("button_style") || "";
  };
  b.onclick = () => model.send({ event: "click" });
  draw();
  model.on("change", draw);
  el.replaceChildren(b);
}

function toggles(_manager, model, el) {
  const group = h("div", "wsl-toggles");
  group.setAttribute("role", "group");
  const draw = () => {
    group.setAttribute("aria-label", model.get("description") || "");
    const tips = model.get("tooltips") || [];
    group.replaceChildren(...(model.get("_options_labels") || []).map((label, i) => {
      const b = h("button", "wsl-toggle", label);
      b.type = "button";
      b.title = tips[i] || "";
      b.disabled = !!model.get("disabled");
      b.setAttribute("aria-pressed", String(model.get("index") === i));
      b.onclick = () => { model.set("index", i); model.save_changes(); };
      return b;
    }));
  };
  draw();
  model.on("change", draw);
  el.replaceChildren(described(model, group));
}

// Tabs: only the chosen panel is drawn, when first chosen (a panel's figures cost nothing until then).
function tab(manager, model, el) {
  const bar = h("div", "wsl-tabs");
  bar.setAttribute("role", "tablist");
  const panel = h("div", "wsl-panel");
  panel.setAttribute("role", "tabpanel");
  let views = new Map();
  const draw = () => {
    const children = model.get("children") || [];
    const titles = model.get("titles") || [];
    let index = model.get("selected_index");
    if (index === null || index === undefined) index = children.length ? 0 : -1;
    bar.replaceChildren(...children.map((_ref, i) => {
      const b = h("button", "wsl-tab", titles[i] || String(i + 1));
      b.type = "button";
      b.setAttribute("role", "tab");
      b.setAttribute("aria-selected", String(i === index));
      b.onclick = () => { model.set("selected_index", i); model.save_changes(); };
      return b;
    }));
    for (const [ref, v] of views) if (!children.includes(ref)) { v.remove(); views.delete(ref); }
    const ref = children[index];
    if (ref && !views.has(ref)) views.set(ref, manager.view(ref));
    panel.replaceChildren(...(ref ? [views.get(ref).el] : []));
  };
  draw();
  model.on("change:children change:titles change:selected_index", draw);
  el.replaceChildren(bar, panel);
  return () => { for (const v of views.values()) v.remove(); };
}

function anywidget(manager, model, el) {
  let cleanup = null, gone = false;
  const css = model.get("_css");
  if (css && !/^https?:\/\//.test(css)) {
    const id = `wsl-css-${model.get("_anywidget_id") || model.model_id}`;
    if (!document.getElementById(id)) {
      const style = h("style");
      style.id = id;
      style.textContent = css;
      document.head.appendChild(style);
    }
  }
  manager.esm(model).then(async (widget) => {
    if (gone) return;
    const experimental = { invoke: () => Promise.reject(new Error("not on this page")) };
    if (widget.initialize && !model.initialized) {
      model.initialized = true;
      await widget.initialize({ model, experimental });
    }
    cleanup = await widget.render({ model, el, experimental });
  }).catch((e) => {
    console.error("weshare: widget module failed", e);
    el.replaceChildren(unsupported());
  });
  return () => { gone = true; if (typeof cleanup === "function") cleanup(); };
}

const VIEWS = {
  VBoxModel: box, HBoxModel: box, BoxModel: box, GridBoxModel: box,
  HTMLModel: html, HTMLMathModel: html, LabelModel: html,
  DropdownModel: dropdown, SelectModel: dropdown,
  ButtonModel: button, ToggleButtonsModel: toggles, TabModel: tab, AccordionModel: tab,
  AnyModel: anywidget,
};

function render(manager, model, el) {
  const view = VIEWS[model.name];
  if (!view) { el.replaceChildren(unsupported()); return null; }
  el.dataset.model = model.name;
  applyLayout(manager, model, el);
  return view(manager, model, el);
}
