/* The oddity task's own jsPsych plugins: screen set-up (refresh rate, layout), the oddity trial
 * (durations counted in frames with requestAnimationFrame, as the lab session counts flips), and
 * the end screen. Stage changes are published on window.mrd for observers and simulated
 * participants (they read them; they answer through real key events).
 */
"use strict";

const MRD_PT = jsPsychModule.ParameterType;

window.mrd = window.mrd || { stage: "boot", stageId: 0, info: {} };
function mrdStage(stage, info) {
  window.mrd.stageId += 1;
  window.mrd.stage = stage;
  window.mrd.info = info || {};
}
window.mrd.snapshot = function () {
  const q = (s) => !!document.querySelector(s);
  const T = window.mrd.transport;
  return {
    stage: window.mrd.stage, stageId: window.mrd.stageId, info: window.mrd.info,
    dom: { resize: q("#jspsych-resize-handle"), blindspot: q("#virtual-chinrest-circle"),
      fullscreen: q("#jspsych-fullscreen-btn"), download: q("#mrd-download"), form: q("#mrd-form") },
    transport: T ? { pending: T.pending(), rejected: T.state.rejected.length, failures: T.failures,
      lastError: T.lastError, records: T.state.records.length } : null,
  };
};

/* Whole frames closest to ms at rate_hz, at least one for a positive duration (as the lab session). */
function mrdFrames(ms, hz) {
  return ms <= 0 ? 0 : Math.max(1, Math.round((ms * hz) / 1000));
}

function mrdCss(rgb) {
  const c = rgb.map((v) => Math.round(((v + 1) / 2) * 255));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function mrdStats(stamps) {
  const iv = [];
  for (let i = 1; i < stamps.length; i += 1) iv.push(stamps[i] - stamps[i - 1]);
  if (!iv.length) return { mean: null, sd: null, intervals: iv };
  const mean = iv.reduce((a, b) => a + b, 0) / iv.length;
  const sd = iv.length > 1 ? Math.sqrt(iv.reduce((a, b) => a + (b - mean) ** 2, 0) / (iv.length - 1)) : null;
  return { mean, sd, intervals: iv };
}

class MrdSetupPlugin {
  constructor(jsPsych) { this.jsPsych = jsPsych; }

  trial(display_element, trial) {
    display_element.innerHTML = "<p>Measuring your screen, please wait&hellip;</p>";
    mrdStage("setup");
    const stamps = [];
    const n = trial.n_frames;
    const step = (ts) => {
      stamps.push(ts);
      if (stamps.length < n + 10) { requestAnimationFrame(step); return; }
      const iv = mrdStats(stamps.slice(10)).intervals.slice().sort((a, b) => a - b);
      const median = iv.length ? iv[Math.floor(iv.length / 2)] : 0;
      const hz = median > 0 ? 1000 / median : trial.nominal_hz;
      const stats = mrdStats(stamps.slice(10));
      this.jsPsych.finishTrial({ refresh_hz: hz, frame_interval_sd_ms: stats.sd, n_frames: n });
    };
    requestAnimationFrame(step);
  }
}
MrdSetupPlugin.info = {
  name: "mrd-setup", version: "1.0.0",
  parameters: {
    n_frames: { type: MRD_PT.INT, default: 100 },
    nominal_hz: { type: MRD_PT.FLOAT, default: 60 },
  },
  data: { refresh_hz: { type: MRD_PT.FLOAT }, frame_interval_sd_ms: { type: MRD_PT.FLOAT } },
};

class MrdOddityPlugin {
  constructor(jsPsych) { this.jsPsych = jsPsych; }

  trial(display_element, trial) {
    const t = trial.plan, F = trial.frames, L = trial.layout, K = trial.keys;
    const spatial = trial.mode === "spatial";
    const cx = window.innerWidth / 2, cy = window.innerHeight / 2;
    const xs = spatial ? [-L.spacing_px, 0, L.spacing_px] : [0, 0, 0];
    const place = (el, x, size) => Object.assign(el.style, {
      left: `${cx + x - size / 2}px`, top: `${cy - size / 2}px`, width: `${size}px`, height: `${size}px`,
    });
    const stage = document.createElement("div");
    stage.className = "mrd-stage";
    stage.style.background = trial.background;
    const fix = document.createElement("div");
    fix.className = "mrd-fix";
    fix.style.setProperty("--mrd-fix-colour", trial.fixation_colour);
    place(fix, 0, L.fixation_px);
    stage.appendChild(fix);
    const imgs = t.images.map((src, i) => {
      const im = new Image();
      im.src = src;
      im.alt = "";
      place(im, xs[i], L.image_px);
      stage.appendChild(im);
      return im;
    });
    const masks = xs.map((x) => {
      const c = document.createElement("canvas");
      const src = window.mrd.mask;
      c.width = src.width; c.height = src.height;
      c.getContext("2d").drawImage(src, 0, 0);
      place(c, x, L.image_px);
      stage.appendChild(c);
      return c;
    });
    display_element.innerHTML = "";
    display_element.appendChild(stage);

    // The timed part, frame by frame (the lab session's schedule).
    const sched = [];
    const push = (n, phase, els) => { for (let i = 0; i < n; i += 1) sched.push({ phase, els }); };
    push(F.fixation, "fixation", [fix]);
    if (spatial) {
      push(F.stimulus, "stimulus", imgs);
      push(F.mask, "mask", masks);
    } else {
      for (let i = 0; i < 3; i += 1) {
        push(F.stimulus, "stimulus", [imgs[i]]);
        push(F.mask, "mask", [masks[i]]);
        if (i < 2) push(F.isi, "isi", [fix]);
      }
    }
    const all = [fix, ...imgs, ...masks];
    const show = (els) => { for (const e of all) e.style.visibility = els.includes(e) ? "visible" : "hidden"; };

    let onset = null, offset = null, stimFrames = 0, response = null, done = false, quitting = false;
    const stamps = [];
    const planned = { ...t };
    delete planned.images;
    const publish = (phase) => mrdStage("trial", {
      trial: t.trial, phase, answerable: onset !== null && response === null, plan: planned,
    });

    const onKey = (e) => {
      const code = String(e.code || "");
      const key = code.startsWith("Numpad") ? code.toLowerCase() : String(e.key).toLowerCase();
      if (K.quit.includes(key)) { quitting = true; return; }
      if (done || response !== null || onset === null) return;  // before onset: discarded, as in the lab
      const pos = [0, 1, 2].find((i) => K.positions[i].includes(key));
      if (pos === undefined) return;
      e.preventDefault();
      response = { key: K.to_psychopy[key], position: pos + 1, rt: (e.timeStamp - onset) / 1000 };
      publish(window.mrd.info.phase);
    };
    document.addEventListener("keydown", onKey);

    const finish = (stats) => {
      done = true;
      document.removeEventListener("keydown", onKey);
      const plan = planned;
      const correct = response !== null && response.position === t.odd_position ? 1 : 0;
      const row = {
        ...plan, participant: trial.participant, session: trial.session,
        response_key: response ? response.key : "", response_position: response ? response.position : null,
        correct, rt: response ? response.rt : null,
        frame_interval_mean_ms: stats.mean, frame_interval_sd_ms: stats.sd,
        dropped_frames: stats.intervals.filter((v) => v > 1.5 * trial.period_ms).length,
        timestamp: new Date().toISOString(),
      };
      // the measured stimulus (the first interval in temporal mode): frames shown, and its duration
      const firstOffset = spatial ? offset : (onset === null ? null : onset + F.stimulus * trial.period_ms);
      const extra = {
        stimulus_frames: F.stimulus,
        stimulus_frames_measured: spatial ? stimFrames : Math.round(stimFrames / 3),
        stimulus_ms_measured: onset !== null && firstOffset !== null ? firstOffset - onset : null,
      };
      for (const c of trial.columns) if (c in extra) row[c] = extra[c];
      trial.on_response(row);
      const fb = t.block_type === "practice" || trial.feedback_in_main;
      const colour = correct ? trial.correct_colour : trial.incorrect_colour;
      let k = 0;
      const tail = [];
      if (fb) push2(F.feedback, "feedback", colour);
      push2(F.iti, "iti", null);
      function push2(n, phase, c) { for (let i = 0; i < n; i += 1) tail.push({ phase, c }); }
      const after = () => {
        if (quitting) { trial.on_quit(); return; }
        if (k >= tail.length) {
          stage.remove();
          this.jsPsych.finishTrial(row);
          return;
        }
        const f = tail[k++];
        if (f.phase === "feedback") {
          fix.style.setProperty("--mrd-fix-colour", f.c);
          show([fix]);
        } else show([]);
        publish(f.phase);
        requestAnimationFrame(after);
      };
      requestAnimationFrame(after);
    };

    let i = 0, windowLeft = F.response_window;
    const frame = (ts) => {
      if (quitting) { document.removeEventListener("keydown", onKey); trial.on_quit(); return; }
      if (i < sched.length) {
        stamps.push(ts);
        const s = sched[i];
        show(s.els);
        if (s.phase === "stimulus" && onset === null) onset = ts;
        if (s.phase === "stimulus") { stimFrames += 1; } else if (onset !== null && offset === null) offset = ts;
        publish(s.phase);
        i += 1;
        requestAnimationFrame(frame);
        return;
      }
      if (i === sched.length) {  // the end of the last timed frame
        stamps.push(ts);
        if (offset === null) offset = ts;
        i += 1;
      }
      if (response !== null || windowLeft <= 0) { finish(mrdStats(stamps)); return; }
      show([fix]);
      publish("response");
      windowLeft -= 1;
      requestAnimationFrame(frame);
    };
    Promise.all(imgs.map((im) => im.decode().catch(() => null))).then(() => requestAnimationFrame(frame));
  }
}
MrdOddityPlugin.info = {
  name: "mrd-oddity", version: "1.0.0",
  parameters: {
    plan: { type: MRD_PT.OBJECT, default: undefined },
    participant: { type: MRD_PT.STRING, default: undefined },
    session: { type: MRD_PT.INT, default: undefined },
    frames: { type: MRD_PT.OBJECT, default: undefined },
    layout: { type: MRD_PT.OBJECT, default: undefined },
    keys: { type: MRD_PT.OBJECT, default: undefined },
    mode: { type: MRD_PT.STRING, default: "spatial" },
    period_ms: { type: MRD_PT.FLOAT, default: 16.7 },
    columns: { type: MRD_PT.OBJECT, default: [] },
    background: { type: MRD_PT.STRING, default: "rgb(128, 128, 128)" },
    fixation_colour: { type: MRD_PT.STRING, default: "white" },
    correct_colour: { type: MRD_PT.STRING, default: "green" },
    incorrect_colour: { type: MRD_PT.STRING, default: "red" },
    feedback_in_main: { type: MRD_PT.BOOL, default: false },
    on_response: { type: MRD_PT.FUNCTION, default: () => {} },
    on_quit: { type: MRD_PT.FUNCTION, default: () => {} },
  },
  data: {},
};

class MrdEndPlugin {
  constructor(jsPsych) { this.jsPsych = jsPsych; }

  trial(display_element, trial) {
    const T = trial.transport;
    display_element.innerHTML = `<div class="mrd-message"><p>${trial.text}</p>
      <p class="mrd-status" id="mrd-status">Saving your data&hellip;</p></div>`;
    mrdStage("ending");
    const status = display_element.querySelector("#mrd-status");
    T.flush(trial.wait_ms).then((sent) => {
      if (sent && T.endpoint && !T.state.rejected.length) {
        status.textContent = "Your data have been saved. You can close this page.";
      } else {
        const viaJatos = !T.endpoint && window.jatos && typeof window.jatos.appendResultData === "function";
        status.textContent = viaJatos
          ? "Your data have been sent to the study server. A copy is below."
          : T.endpoint
            ? "Your data could not all be sent. Please download them and send the file to the experimenter."
            : "Please download your data and send the file to the experimenter.";
        T.offerDownload(status.parentElement);
        if (T.endpoint) T.kick();
      }
      if (window.jatos && typeof window.jatos.endStudy === "function") window.jatos.endStudy();
      mrdStage("done", { sent });
    });
  }
}
MrdEndPlugin.info = {
  name: "mrd-end", version: "1.0.0",
  parameters: {
    text: { type: MRD_PT.HTML_STRING, default: "" },
    transport: { type: MRD_PT.OBJECT, default: undefined },
    wait_ms: { type: MRD_PT.INT, default: 10000 },
  },
  data: {},
};

window.MrdSetupPlugin = MrdSetupPlugin;
window.MrdOddityPlugin = MrdOddityPlugin;
window.MrdEndPlugin = MrdEndPlugin;
window.mrdFrames = mrdFrames;
window.mrdCss = mrdCss;
window.mrdStage = mrdStage;
