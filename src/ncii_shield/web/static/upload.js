// ncii-shield: upload an export in resumable chunks, then hand it to the scan. No framework; same origin (CSP).
// The server appends a chunk only at the offset it already holds; after a dropped connection (or a reload and
// the same file chosen again) this asks how far it got and goes on. The whole file's SHA-256 is computed as
// the chunks are accepted (Web Crypto has no incremental digest, and a file of gigabytes must not sit in memory).
"use strict";

// SHA-256 (FIPS 180-4), fed piece by piece.
class Sha256 {
  constructor() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.block = new Uint8Array(64);
    this.used = 0;
    this.length = 0;
    this.w = new Int32Array(64);
  }
  update(bytes) {
    let at = 0;
    this.length += bytes.length;
    if (this.used) {
      const take = Math.min(64 - this.used, bytes.length);
      this.block.set(bytes.subarray(0, take), this.used);
      this.used += take;
      at = take;
      if (this.used < 64) return;
      this.compress(this.block, 0);
      this.used = 0;
    }
    for (; at + 64 <= bytes.length; at += 64) this.compress(bytes, at);
    this.block.set(bytes.subarray(at), 0);
    this.used = bytes.length - at;
  }
  compress(bytes, at) {
    const w = this.w, h = this.h, K = SHA256_K;
    for (let i = 0; i < 16; i++, at += 4) w[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0] | 0, b = h[1] | 0, c = h[2] | 0, d = h[3] | 0, e = h[4] | 0, f = h[5] | 0, g = h[6] | 0, k = h[7] | 0;
    for (let i = 0; i < 64; i++) {
      const t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
  hex() {
    const bits = this.length * 8;
    const tail = new Uint8Array(((this.used + 9 + 63) >> 6) << 6);
    tail.set(this.block.subarray(0, this.used));
    tail[this.used] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let at = 0; at < tail.length; at += 64) this.compress(tail, at);
    return Array.from(this.h, (v) => v.toString(16).padStart(8, "0")).join("");
  }
}
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const byId = (id) => document.getElementById(id);
  const bar = byId("upload-bar"), text = byId("upload-text"), error = byId("upload-error");
  const input = byId("upload-file"), button = byId("upload-button");
  const csrf = form.querySelector('input[name="csrf_token"]').value;
  const say = (template, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), template || "");
  const mib = (n) => (n / 1048576).toFixed(1);
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // One request; an error answer becomes an Error carrying the server's one line (and its hint).
  const ask = async (url, options = {}) => {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const response = await fetch(url, { credentials: "same-origin", ...options, headers });
    let body;
    try { body = await response.json(); } catch (_) { body = { detail: `${response.status} ${response.statusText}` }; }
    if (response.redirected) throw Object.assign(new Error(form.dataset.uploadSignedOut), { status: 401 });
    if (!response.ok) {
      const failure = new Error((body.detail || response.status) + (body.hint ? ` (${body.hint})` : ""));
      failure.status = response.status;
      failure.detail = body.detail;
      throw failure;
    }
    return body;
  };
  const formBody = (fields) => new URLSearchParams({ csrf_token: csrf, ...fields });
  // Worth trying again: the network (no status), a busy or failing server, an offset the server disagrees with.
  const transient = (failure) => !failure.status || failure.status >= 500 || failure.status === 409;

  const showProgress = (offset, size) => {
    const percent = Math.floor((100 * offset) / size);
    bar.value = percent;
    text.textContent = say(form.dataset.uploadSending, { p: percent, done: mib(offset), size: mib(size) });
  };

  const upload = async (file) => {
    let state = await ask(form.dataset.start, {
      method: "POST",
      body: formBody({ name: file.name, size: String(file.size), key: `${file.name}|${file.size}|${file.lastModified}` }),
    });
    const base = `${form.dataset.start}/${state.id}`;
    const digest = new Sha256();
    let hashed = 0;
    // Resuming: what the server already holds is hashed here first (read locally, nothing is sent again).
    while (hashed < state.offset) {
      const end = Math.min(hashed + state.chunk, state.offset);
      digest.update(new Uint8Array(await file.slice(hashed, end).arrayBuffer()));
      hashed = end;
      text.textContent = say(form.dataset.uploadHashing, { p: Math.floor((100 * hashed) / file.size) });
    }
    let offset = state.offset, failures = 0;
    // The chunk the server accepted last is hashed while the next one travels (hashing is as slow as a fast
    // network): `hashed` counts only bytes both accepted and hashed.
    let accepted = null;
    const settle = () => {
      if (accepted) { digest.update(accepted); hashed += accepted.length; accepted = null; }
    };
    showProgress(offset, file.size);
    while (offset < file.size) {
      const bytes = new Uint8Array(await file.slice(offset, Math.min(offset + state.chunk, file.size)).arrayBuffer());
      const sending = ask(`${base}/chunk?offset=${offset}`, {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrf },
        body: bytes,
      });
      settle();
      try {
        const answer = await sending;
        if (answer.offset !== offset + bytes.length) throw Object.assign(new Error("offset"), { status: 409 });
        accepted = bytes;
        offset = answer.offset;
        failures = 0;
        showProgress(offset, file.size);
      } catch (failure) {
        if (!transient(failure) || ++failures > 8) throw failure;
        text.textContent = say(form.dataset.uploadRetrying, { why: failure.detail || "no connection" });
        await pause(Math.min(500 * 2 ** failures, 8000));
        // Ask the server how far it got; only bytes it holds and this page has hashed count.
        state = await ask(base).catch(() => state);
        if (state.offset !== hashed) return upload(file); // out of step (another tab?): start over cleanly
      }
    }
    settle();
    bar.value = 100;
    text.textContent = form.dataset.uploadChecking;
    const started = await ask(`${base}/finish`, { method: "POST", body: formBody({ sha256: digest.hex() }) });
    await pause(600); // the full bar stays in view a moment before the scan's page takes over
    window.location.assign(started.url);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const file = input.files && input.files[0];
    if (!file) { error.textContent = form.dataset.uploadChoose; error.hidden = false; return; }
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    try {
      await upload(file);
    } catch (failure) {
      error.textContent = `${form.dataset.uploadFailed} ${failure.message}`;
      error.hidden = false;
      text.textContent = "";
      bar.hidden = true;
      button.disabled = false;
    }
  });
});
