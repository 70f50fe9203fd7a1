/* The oddity task: the lab session's sequence in a browser.
 *
 * participant id (?participant=ID&session=N, or a form) -> its plan from the bundle -> open the run
 * with the collection endpoint (where did this participant stop?) -> preload the remaining images
 * (progress bar) -> browser and screen check -> fullscreen -> credit-card / blind-spot calibration
 * (once per browser: a reload reuses it) -> refresh-rate measurement and durations in frames ->
 * instructions -> trials with breaks and running accuracy -> end screen (data saved, or a download).
 */
"use strict";

(function () {
  const M = window.MRD_DATA.manifest;
  const cfg = M.experiment_config, P = cfg.presentation, K = M.keys;
  const root = document.body;
  root.style.background = mrdCss(P.background);
  root.style.color = "white";

  function fatal(text) {
    root.innerHTML = `<div class="mrd-form"><p id="mrd-fatal">${text}</p></div>`;
    mrdStage("fatal", { text });
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.appendChild(s);
    });
  }

  function askId() {
    return new Promise((resolve) => {
      const div = document.createElement("div");
      div.className = "mrd-form";
      div.innerHTML = `<form id="mrd-form"><p>Participant id: <input id="mrd-pid" required
        pattern="[A-Za-z0-9_-]{1,32}"></p><p>Session: <input id="mrd-ses" type="number" min="1" value="1"></p>
        <p><button class="jspsych-btn" type="submit">Start</button></p></form>`;
      root.appendChild(div);
      mrdStage("form");
      div.querySelector("form").addEventListener("submit", (e) => {
        e.preventDefault();
        const pid = div.querySelector("#mrd-pid").value, ses = div.querySelector("#mrd-ses").value;
        div.remove();
        resolve({ pid, ses });
      });
    });
  }

  function noiseCanvas(n, seed) {
    const c = document.createElement("canvas");
    c.width = n; c.height = n;
    const ctx = c.getContext("2d"), img = ctx.createImageData(n, n);
    let s = seed >>> 0;
    for (let i = 0; i < img.data.length; i += 1) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      img.data[i] = (i % 4 === 3) ? 255 : s >>> 24;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  function instructions() {
    const spatial = P.mode === "spatial";
    const names = spatial ? ["left", "middle", "right"] : ["first", "second", "third"];
    const keys = [1, 2, 3].map((i) => `  ${PK[`position_${i}`].join(" or ")}: ${names[i - 1]}`).join("\n");
    const fill = {
      keys, proceed: K.psychopy.proceed.join(" or "), quit: K.psychopy.quit.join(" or "),
      stimulus_ms: String(P.stimulus_ms), response_window_ms: String(P.response_window_ms),
      practice_trials: String(cfg.design.practice_trials),
      correct_colour: P.correct_colour_name || "green", incorrect_colour: P.incorrect_colour_name || "red",
    };
    return P.instructions.replace(/\{(\w+)\}/g, (m, k) => (k in fill ? fill[k] : m));
  }

  let PK = K.psychopy;  // keys of positions 1..3 for this participant (the plan's, if counterbalanced)
  const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);

  async function main() {
    let q = new URLSearchParams(window.location.search);
    if (M.host === "jatos" && window.jatos) {  // the study link's query reaches the component through jatos.js
      await new Promise((resolve) => window.jatos.onLoad(resolve));
      q = new URLSearchParams(window.jatos.urlQueryParameters || {});
    }
    let pid = q.get("participant"), ses = q.get("session") || "1";
    if (!pid) ({ pid, ses } = await askId());
    const session = Number(ses);
    const file = /^[A-Za-z0-9_-]{1,32}$/.test(pid) && Number.isInteger(session)
      ? (M.participants[pid] || {})[String(session)] : undefined;
    if (!file) {
      fatal(`This study has no session ${esc(ses)} for participant id "${esc(pid)}". Please check the link you were given.`);
      return;
    }
    await loadScript(file);
    const plan = window.MRD_DATA[`plan:sub-${pid}_ses-${session}`];
    if (plan.keys) PK = plan.keys;
    const PKB = plan.keys_browser || K.browser;
    const T = new MrdTransport(M, pid, session);
    window.mrd.transport = T;
    mrdStage("opening");
    const progress = await T.open({ user_agent: navigator.userAgent, client_time: new Date().toISOString() }, 4000);
    const start = progress.n_done;
    if (start >= plan.trials.length) {
      root.innerHTML = '<div class="mrd-message"><p>This session is already complete. Thank you!</p></div>';
      T.offerDownload(root.firstChild);
      mrdStage("done", { complete: true });
      return;
    }
    window.mrd.mask = noiseCanvas(64, 1);
    const remaining = plan.trials.slice(start);
    const images = [...new Set(remaining.flatMap((t) => t.images))];
    let mainN = progress.main_n, mainCorrect = progress.main_correct;
    const run = { start_trial: start + 1 };
    const proceed = K.psychopy.proceed.join(" or ");
    const jsPsych = initJsPsych({});
    const message = (html, id) => ({
      type: jsPsychHtmlKeyboardResponse,
      stimulus: typeof html === "function" ? () => `<div class="mrd-message">${html()}</div>` : `<div class="mrd-message">${html}</div>`,
      choices: K.browser.proceed,
      on_load: () => mrdStage("message", { id }),
    });
    const quit = () => {
      T.enqueue("end", { participant: pid, session, run_id: T.runId, reason: "escape" });
      jsPsych.abortExperiment('<div class="mrd-message"><p>You ended the session.</p><p class="mrd-status" id="mrd-status">Saving your data&hellip;</p></div>');
      T.flush(5000).then(() => {
        const st = document.querySelector("#mrd-status") || root;
        st.textContent = T.pending() ? "Your data could not all be sent." : "Your data so far have been saved.";
        T.offerDownload(st.parentElement || root);
        mrdStage("done", { reason: "escape" });
      });
    };

    const timeline = [];
    timeline.push({
      type: jsPsychPreload, images, show_progress_bar: true, continue_after_error: false, max_load_time: 300000,
      message: `<p>Loading ${images.length} images&hellip;</p>`,
      on_load: () => mrdStage("preload", { n: images.length }),
      on_finish: (d) => { run.preload = { success: d.success, failed: (d.failed_images || []).length }; },
    });
    timeline.push({
      type: jsPsychBrowserCheck, minimum_width: 640, minimum_height: 480,
      inclusion_function: (d) => !d.mobile,
      exclusion_message: () => "<p>This experiment needs a desktop or laptop computer with a keyboard.</p>",
      on_load: () => mrdStage("browser-check"),
      on_finish: (d) => { run.browser = d; },
    });
    timeline.push({
      type: jsPsychFullscreen, fullscreen_mode: true, button_label: "Continue in full screen",
      message: "<p>The experiment runs in full screen. Please close other programs and tabs.</p>",
      on_load: () => mrdStage("fullscreen"),
    });
    const cal = M.calibration;
    if (!T.state.calibration) {
      timeline.push({
        type: jsPsychVirtualChinrest, blindspot_reps: cal.blindspot_reps, resize_units: "none",
        item_width_mm: cal.card_width_mm, item_height_mm: cal.card_height_mm, viewing_distance_report: "none",
        on_load: () => mrdStage("calibration", { method: cal.method }),
        on_finish: (d) => {
          const distanceCm = cal.method === "chinrest" ? d.view_dist_mm / 10 : cfg.monitor.distance_cm;
          // PsychoPy's deg -> cm (monitorunittools.deg2cm, no flat-screen correction): cm = deg * dist * 0.017455
          T.state.calibration = {
            method: cal.method, px_per_mm: d.px2mm, card_width_px: d.item_width_px,
            viewing_distance_cm: distanceCm, px_per_deg: distanceCm * 0.017455 * d.px2mm * 10,
            measured: new Date().toISOString(),
          };
          T.save();
        },
      });
    }
    timeline.push({
      type: MrdSetupPlugin, n_frames: 100, nominal_hz: cfg.monitor.nominal_refresh_hz,
      on_finish: (d) => {
        const hz = d.refresh_hz, C = T.state.calibration, ppd = C.px_per_deg;
        run.refresh_hz = hz;
        run.period_ms = 1000 / hz;
        run.frames = {};
        for (const k of ["stimulus", "isi", "fixation", "mask", "response_window", "iti", "feedback"]) {
          run.frames[k] = mrdFrames(P[`${k}_ms`], hz);
        }
        run.layout = { image_px: P.image_size_deg * ppd, spacing_px: P.spacing_deg * ppd, fixation_px: P.fixation_size_deg * ppd };
        const width = P.mode === "spatial" ? 2 * run.layout.spacing_px + run.layout.image_px : run.layout.image_px;
        run.fits = width <= window.innerWidth && run.layout.image_px <= window.innerHeight;
        const body = {
          participant: pid, session, run_id: T.runId, first_trial: start + 1, frame_rate_hz: hz,
          frame_interval_sd_ms: d.frame_interval_sd_ms, durations_frames: run.frames, calibration: C,
          layout_px: run.layout, layout_fits: run.fits, fullscreen: !!document.fullscreenElement,
          screen: { width: screen.width, height: screen.height, avail_width: screen.availWidth,
            avail_height: screen.availHeight, device_pixel_ratio: window.devicePixelRatio,
            window_width: window.innerWidth, window_height: window.innerHeight },
          browser: run.browser || null, preload: run.preload || null, user_agent: navigator.userAgent,
          jspsych_version: jsPsych.version ? jsPsych.version() : null,
        };
        T.enqueue("run", body);
        T.rememberRun(body);
      },
    });
    timeline.push({
      timeline: [message(() => "<p>At this viewing distance the images do not fit into your window. Please "
        + "enlarge the window or sit further away and reload the page.</p>", "too-small")],
      conditional_function: () => !run.fits,
    });
    timeline.push(message(`${start ? "<p>Welcome back. The session continues where it stopped.</p>" : ""}<p>${esc(instructions())}</p>`, "instructions"));
    const stimParams = {
      type: MrdOddityPlugin, participant: pid, session, mode: P.mode, keys: {
        positions: [1, 2, 3].map((i) => PKB[`position_${i}`]), quit: K.browser.quit, to_psychopy: K.to_psychopy,
      },
      columns: M.trial_columns,
      background: mrdCss(P.background), fixation_colour: mrdCss(P.fixation_colour),
      correct_colour: mrdCss(P.correct_colour), incorrect_colour: mrdCss(P.incorrect_colour),
      feedback_in_main: P.feedback_in_main,
      on_quit: quit,
    };
    // Practice rounds after the first run only while no earlier round reached the criterion
    // (psychophysics.design.skip_trial); `done` holds every answered trial, earlier runs included.
    const criterion = Number(cfg.design.practice_criterion || 0);
    const done = (progress.done || []).slice();
    const skip = (t) => {
      if (t.block_type !== "practice" || !(t.practice_round > 1) || criterion <= 0) return false;
      for (let r = 1; r < t.practice_round; r += 1) {
        const got = done.filter((d) => d.practice_round === r);
        if (got.length && got.reduce((a, d) => a + d.correct, 0) / got.length >= criterion) return true;
      }
      return false;
    };
    for (let k = start; k < plan.trials.length; k += 1) {
      const t = plan.trials[k], prev = k > 0 ? plan.trials[k - 1] : null;
      if (prev && t.block !== prev.block && k > start) {
        const nBlocks = Math.max(...plan.trials.map((x) => x.block));
        const head = prev.block_type === "practice" ? "Practice is over. The main part begins (no feedback)."
          : `Break: block ${prev.block} of ${nBlocks} done.`;
        const breakText = (more) => {
          const acc = P.show_running_accuracy && mainN ? `<p>Accuracy so far: ${Math.round((100 * mainCorrect) / mainN)} %</p>` : "";
          const rest = prev.block_type === "practice" ? "" : "<p>Rest your eyes for a moment.</p>";
          return `<div class="mrd-message"><p>${head}</p>${acc}${rest}<p>${more}</p></div>`;
        };
        const minMs = 1000 * Number(P.break_min_s || 0);
        const brk = { timeline: [], conditional_function: () => !skip(t) };
        if (minMs > 0 && prev.block_type !== "practice") {  // the shortest break: proceed works after it
          brk.timeline.push({ type: jsPsychHtmlKeyboardResponse, choices: "NO_KEYS", trial_duration: minMs,
            stimulus: () => breakText("Take a short rest."), on_load: () => mrdStage("break-wait", { id: t.trial }) });
        }
        brk.timeline.push(message(() => breakText(`Press ${esc(proceed)} to continue.`), `break-${t.trial}`));
        timeline.push(brk);
      }
      timeline.push({
        timeline: [{
          ...stimParams, plan: t, frames: () => run.frames, layout: () => run.layout, period_ms: () => run.period_ms,
          on_response: (row) => {
            if (row.block_type === "main") { mainN += 1; mainCorrect += row.correct; }
            done.push({ trial: row.trial, practice_round: row.practice_round || 0, correct: row.correct,
              block_type: row.block_type });
            T.record({ ...row, mrd: "trial", stimulus_digest: M.stimulus_digest, run_id: T.runId });
          },
        }],
        conditional_function: () => !skip(t),
      });
    }
    timeline.push({
      type: MrdEndPlugin, transport: T, text: "The session is complete. Thank you!",
      wait_ms: () => (!T.endpoint ? 0 : T.server ? 10000 : 2000),
      on_start: () => T.enqueue("end", { participant: pid, session, run_id: T.runId, reason: "completed" }),
    });
    jsPsych.run(timeline);
  }

  main().catch((e) => fatal(`The experiment could not start: ${esc(e.message || e)}`));
})();
