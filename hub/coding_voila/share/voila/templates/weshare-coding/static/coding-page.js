// The coding service's light page: reads the cell's outputs Voila wrote into the page, connects to
// the preheated kernel, asks for the widgets' states and draws them (widgets.js). Every failure
// ends in a visible bilingual message, never a page stuck on "Loading".

// The page names this module with its version (?v=, cached for good): its siblings get the same.
const version = new URL(import.meta.url).search;
const [{ KernelLink }, { FULL_PAGE, Manager, h, unsupported }] = await Promise.all([
  import(`./kernel.js${version}`), import(`./widgets.js${version}`)]).catch((e) => {
  const status = document.getElementById("wsl-status");
  status.setAttribute("role", "alert");
  status.className = "wsl-alert";
  status.textContent = "La page n'a pas pu se charger : rechargez-la. / The page could not load: reload it.";
  throw e;
});

const STATES_TIMEOUT_MS = 30000;
const ALIVE_EVERY_MS = 10000;  // a shut-down or culled kernel leaves its websocket open: ask the server
const MESSAGES = {
  lost: ["La connexion au serveur est perdue : vos codages enregistrés sont conservés, rechargez la page.",
    "The connection to the server was lost: your saved codings are kept, reload the page."],
  silent: ["Le serveur ne répond pas.", "The server does not answer."],
  error: ["Une erreur est survenue à l'ouverture de la page.", "An error occurred while opening the page."],
  broken: ["Cette page est incomplète.", "This page is incomplete."],
};

const main = document.getElementById("wsl-main");
const status = document.getElementById("wsl-status");
const root = h("div", "wsl-root");
main.appendChild(root);
let link = null;

function setState(state) { document.body.dataset.wslState = state; }

function alertMessage(kind) {
  const [fr, en] = MESSAGES[kind];
  status.setAttribute("role", "alert");
  status.className = "wsl-alert";
  const english = h("span", "", ` / ${en} `);
  english.lang = "en";
  const reload = h("a", "wsl-reload", "Recharger / Reload");
  reload.href = location.pathname + location.search;
  const full = h("a", "wsl-full-link", "Page complète / Full page");
  full.href = FULL_PAGE;
  status.replaceChildren(document.createTextNode(fr), english, reload, document.createTextNode(" · "), full);
  status.hidden = false;
  setState(kind);
}

function readJson(el) {
  try { return JSON.parse(el.textContent); } catch (_e) { return null; }
}

function start() {
  const config = readJson(document.getElementById("wsl-config") || h("p"));
  const outputs = [...document.querySelectorAll("script.wsl-output")].map(readJson).filter(Boolean);
  if (!config || !config.kernelId) { alertMessage("broken"); return; }
  setState("connecting");
  let manager = null;
  link = new KernelLink({
    baseUrl: config.baseUrl,
    kernelId: config.kernelId,
    onComm: (type, content, buffers) => manager.handle(type, content, buffers),
    onClose: () => alertMessage("lost"),
  });
  manager = new Manager(link);
  let views = 0;
  for (const output of outputs) {
    const data = output.data || {};
    const view = data["application/vnd.jupyter.widget-view+json"];
    if (view && view.model_id) {
      root.appendChild(manager.view(view.model_id).el);
      views++;
    } else if (output.output_type === "error") {
      alertMessage("error");
    } else if (data["text/html"] || data["text/plain"]) {
      root.appendChild(unsupported());
    }
  }
  if (!views) {
    if (document.body.dataset.wslState === "connecting") alertMessage("broken");
    link.close();
    return;
  }
  const timer = setTimeout(() => { if (!link.closed) alertMessage("silent"); }, STATES_TIMEOUT_MS);
  link.opened.then(() => manager.requestStates()).then(() => {
    clearTimeout(timer);
    if (link.closed) return;
    status.hidden = true;
    setState("ready");
    watchKernel(config);
  });
}

// The kernel still exists (Voila's kernel API, behind the same login); 404, a login page or two
// failed requests in a row mean it is gone for this page.
function watchKernel(config) {
  let failures = 0;
  const check = async () => {
    if (!link || link.closed || document.visibilityState !== "visible") return;
    try {
      const r = await fetch(`${config.baseUrl}api/kernels/${encodeURIComponent(config.kernelId)}`,
        { cache: "no-store", redirect: "manual" });
      failures = r.ok ? 0 : (r.status === 404 || r.status === 403 || r.type === "opaqueredirect" ? 2 : failures + 1);
    } catch (_e) {
      failures++;
    }
    if (failures >= 2 && !link.closed) { link.close(); alertMessage("lost"); }
  };
  setInterval(check, ALIVE_EVERY_MS);
  document.addEventListener("visibilitychange", check);
}

// Leaving the page: the kernel is shut down at once (as Voila's own page does), not left to the culler.
window.addEventListener("pagehide", () => {
  const config = readJson(document.getElementById("wsl-config") || h("p"));
  if (!link || link.closed || !config) return;
  link.close();
  navigator.sendBeacon(`${config.baseUrl}voila/api/shutdown/${encodeURIComponent(config.kernelId)}`);
});

// Back to this page from the browser's history cache: its kernel was shut down on leaving.
window.addEventListener("pageshow", (ev) => { if (ev.persisted) location.reload(); });

try {
  start();
} catch (e) {
  console.error("weshare: the page failed to start", e);
  alertMessage("error");
}
