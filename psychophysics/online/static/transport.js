/* The oddity task's data transport: every record is kept in the browser (localStorage) first, then
 * sent, in order, to the collection endpoint, and retried until the endpoint acknowledges it.
 *
 * - The queue survives a reload: a participant who reloads the page loses nothing that was recorded.
 * - A message counts as delivered when the endpoint answers 2xx (a trial it already has is answered
 *   2xx as well, so a retry after a lost answer is harmless). A 4xx answer is final: the message is
 *   set aside in `rejected` (shown, and kept in the download) and the queue moves on.
 * - Without an endpoint (manifest.endpoint null), or when it stays unreachable, the end screen offers
 *   the records as a jsPsych-style JSON file for `mrd import-online`.
 * - Under JATOS (jatos.js loaded by the host), every record is also appended to the JATOS result data.
 */
"use strict";

class MrdTransport {
  constructor(manifest, participant, session) {
    this.endpoint = manifest.endpoint;
    this.digest = manifest.stimulus_digest;
    this.participant = participant;
    this.session = session;
    this.key = `mrd:${this.digest.slice(0, 16)}:${participant}:${session}`;
    this.runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    this.sending = false;
    this.delay = 250;
    this.failures = 0;
    this.lastError = null;
    this.server = null;
    this.storageOk = true;
    let saved = null;
    try {
      saved = JSON.parse(window.localStorage.getItem(this.key) || "null");
    } catch (e) {
      this.storageOk = false;
    }
    this.state = saved || { records: [], queue: [], rejected: [], seq: 0, calibration: null };
  }

  save() {
    try {
      window.localStorage.setItem(this.key, JSON.stringify(this.state));
    } catch (e) {
      this.storageOk = false;
      this.lastError = `browser storage: ${e}`;
    }
  }

  url(kind) {
    const base = this.endpoint === "api" ? "api" : String(this.endpoint).replace(/\/+$/, "");
    return `${base}/${kind}`;
  }

  enqueue(kind, body) {
    this.state.seq += 1;
    const msg = { seq: this.state.seq, kind, body };
    this.state.queue.push(msg);
    this.save();
    if (window.jatos && typeof window.jatos.appendResultData === "function") {
      window.jatos.appendResultData(JSON.stringify({ mrd_message: kind, ...body }) + "\n");
    }
    this.kick();
    return msg.seq;
  }

  record(row) {
    this.state.records.push(row);
    return this.enqueue("trial", row);
  }

  pending() {
    return this.state.queue.length;
  }

  async kick() {
    if (this.sending || !this.endpoint) return;
    this.sending = true;
    try {
      while (this.state.queue.length) {
        const msg = this.state.queue[0];
        let resp = null;
        try {
          resp = await fetch(this.url(msg.kind), {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(msg.body),
            cache: "no-store",
          });
        } catch (e) {
          resp = null;
          this.lastError = `network: ${e}`;
        }
        if (resp && resp.ok) {
          const answer = await resp.json().catch(() => ({}));
          if (msg.kind === "open") this.server = answer;
          this.state.queue.shift();
          this.save();
          this.delay = 250;
          continue;
        }
        if (resp && resp.status >= 400 && resp.status < 500) {
          const text = await resp.text().catch(() => "");
          this.state.rejected.push({ ...msg, status: resp.status, answer: text.slice(0, 500) });
          this.state.queue.shift();
          this.lastError = `HTTP ${resp.status}: ${text.slice(0, 200)}`;
          this.save();
          continue;
        }
        if (resp) this.lastError = `HTTP ${resp.status}`;
        this.failures += 1;
        await new Promise((r) => setTimeout(r, this.delay));
        this.delay = Math.min(this.delay * 2, 2000);
      }
    } finally {
      this.sending = false;
    }
  }

  /* Send wherever possible and wait until the queue is empty or `ms` have passed. */
  async flush(ms) {
    const until = performance.now() + ms;
    this.kick();
    while (this.state.queue.length && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      if (!this.sending) this.kick();
    }
    return this.state.queue.length === 0;
  }

  /* Open this run with the server (waits up to `ms`), return where the session stands. */
  async open(info, ms) {
    const seq = this.enqueue("open", {
      participant: this.participant, session: this.session, run_id: this.runId,
      stimulus_digest: this.digest, ...info,
    });
    const until = performance.now() + ms;
    while (this.state.queue.some((m) => m.seq <= seq) && performance.now() < until && this.endpoint) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const local = this.state.records.reduce((m, r) => Math.max(m, r.trial), 0);
    const server = this.server && Number.isInteger(this.server.n_done) ? this.server.n_done : 0;
    let mainN = 0, mainCorrect = 0;
    for (const r of this.state.records) {
      if (r.block_type === "main") { mainN += 1; mainCorrect += r.correct; }
    }
    if (this.server && server >= local && Number.isInteger(this.server.main_n)) {
      mainN = this.server.main_n; mainCorrect = this.server.main_correct;
    }
    let done = this.state.records.map((r) => ({ trial: r.trial, practice_round: r.practice_round || 0,
      correct: r.correct, block_type: r.block_type }));
    if (this.server && server >= local && Array.isArray(this.server.done)) done = this.server.done;
    return { n_done: Math.max(local, server), main_n: mainN, main_correct: mainCorrect, done, reached: !!this.server };
  }

  /* Everything recorded in this browser, as a jsPsych-style JSON array (for mrd import-online). */
  downloadText() {
    const info = { trial_type: "mrd-export", participant: this.participant, session: this.session,
      stimulus_digest: this.digest, downloaded: new Date().toISOString(),
      undelivered: this.state.queue.length, rejected: this.state.rejected.length };
    return JSON.stringify([info, ...(this.state.runs || []), ...this.state.records], null, 1);
  }

  rememberRun(body) {
    this.state.runs = (this.state.runs || []).concat([{ trial_type: "mrd-run", ...body }]);
    this.save();
  }

  offerDownload(container) {
    const name = `sub-${this.participant}_ses-${this.session}_jspsych.json`;
    const blob = new Blob([this.downloadText()], { type: "application/json" });
    const a = document.createElement("a");
    a.id = "mrd-download";
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.className = "jspsych-btn";
    a.textContent = `Download your data (${name})`;
    container.appendChild(a);
    return a;
  }
}

window.MrdTransport = MrdTransport;
