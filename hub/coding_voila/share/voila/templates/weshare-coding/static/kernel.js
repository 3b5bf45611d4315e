// The kernel's websocket, spoken directly: Jupyter's legacy JSON protocol (no subprotocol offered,
// so jupyter_server sends JSON text, and binary frames only for messages carrying buffers) and the
// comm messages of the widgets. About what Voila's lab frontend does through @jupyterlab/services,
// without its megabytes of JavaScript.

const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
  : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));

// jupyter_server's serialize_binary_message: uint32 big-endian count, offsets, JSON, buffers.
export function parseBinary(data) {
  const view = new DataView(data);
  const count = view.getUint32(0);
  const offsets = [];
  for (let i = 0; i < count; i++) offsets.push(view.getUint32(4 * (i + 1)));
  offsets.push(data.byteLength);
  const parts = offsets.slice(0, -1).map((start, i) => new DataView(data, start, offsets[i + 1] - start));
  const msg = JSON.parse(new TextDecoder().decode(parts[0]));
  msg.buffers = parts.slice(1);
  return msg;
}

export class KernelLink {
  // onComm(msgType, content, buffers, metadata) for comm_open / comm_msg / comm_close;
  // onClose(reason) once, when the link is lost for good.
  constructor({ baseUrl, kernelId, onComm, onClose, onBusy }) {
    this.session = uuid();
    this.onComm = onComm;
    this.onClose = onClose;
    this.onBusy = onBusy || (() => {});
    this.closed = false;
    this.queue = [];
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}${baseUrl}api/kernels/${encodeURIComponent(kernelId)}/channels`
      + `?session_id=${this.session}`;
    this.ws = new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve) => {
      this.ws.onopen = () => { performance.mark("wsl-open"); resolve(); this.flush(); };
    });
    this.ws.onmessage = (ev) => this.receive(ev.data);
    this.ws.onerror = () => this.lost("error");
    this.ws.onclose = (ev) => this.lost(`closed (${ev.code})`);
  }

  lost(reason) {
    if (this.closed) return;
    this.closed = true;
    this.onClose(reason);
  }

  close() {
    this.closed = true;
    try { this.ws.close(); } catch (_e) { /* already closed */ }
  }

  receive(data) {
    let msg;
    try {
      msg = typeof data === "string" ? JSON.parse(data) : parseBinary(data);
    } catch (_e) {
      return;  // not a message of ours to read
    }
    const type = msg.header && msg.header.msg_type;
    if (type === "comm_open" || type === "comm_msg" || type === "comm_close") {
      this.onComm(type, msg.content || {}, msg.buffers || [], msg.metadata || {});
    } else if (type === "status" && msg.content) {
      if (msg.content.execution_state === "dead") this.lost("dead");
      else this.onBusy(msg.content.execution_state === "busy");
    }
  }

  flush() {
    while (this.queue.length && this.ws.readyState === WebSocket.OPEN) this.ws.send(this.queue.shift());
  }

  send(msgType, content, metadata = {}) {
    if (this.closed) return;
    const msg = {
      header: { msg_id: uuid(), msg_type: msgType, session: this.session, username: "", version: "5.3",
        date: new Date().toISOString() },
      parent_header: {}, metadata, content, channel: "shell", buffers: [],
    };
    this.queue.push(JSON.stringify(msg));
    this.flush();
  }

  newId() { return uuid(); }

  openComm(commId, targetName, data, metadata) {
    this.send("comm_open", { comm_id: commId, target_name: targetName, data }, metadata);
  }

  commMsg(commId, data) {
    this.send("comm_msg", { comm_id: commId, data });
  }
}
