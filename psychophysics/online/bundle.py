"""``mrd export-online``: the oddity task as a self-contained static jsPsych bundle.

A bundle is a folder that any static web server (or ``mrd serve-online``) can serve; it loads
nothing from the internet::

    index.html            the page (participant id from ?participant=ID&session=N, else a form)
    mrd/                  the task: task.js, plugins.js, transport.js, style.css
    vendor/               jsPsych and its plugins, copied from node_modules (pinned in package.json)
    images/<hash>.png     every display image a planned trial shows, named by content
    data/manifest.js      config, keys, stimulus digest, participants, endpoint, versions
    data/plans/sub-P_ses-S.js   one planned session each (the lab plan plus the images per position)

Plans are made by the lab's own preparation (:func:`psychophysics.preparation.prepare`, which
runs :func:`psychophysics.design.build_plan` seeded per participant and session), so participant
``P01`` session 1 sees the same trials online and in the lab, with the same key order. Because the plan depends on the participant id, the ids are fixed at export
(``--participants``). The images of each trial are :meth:`psychophysics.images.TrialImages.arrays`,
the very arrays the PsychoPy session shows, as lossless PNG.

Data files (``data/*.js``) are JavaScript so that the bundle also opens from ``file://``; each is
``mrdData(<key>, <JSON>);`` and :func:`read_data_file` reads it back.

Examples
--------
>>> import json
>>> text = data_script("manifest", {"a": 1})
>>> text.splitlines()[0]
'mrdData("manifest",'
>>> parse_data_script(text)
('manifest', {'a': 1})
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from stimuli.errors import MRDError

HERE = Path(__file__).parent
STATIC = HERE / "static"
NODE_MODULES = HERE / "node_modules"
FORMAT = "mrd-online-1"
VENDOR_FILES = {
    "jspsych.js": "jspsych/dist/index.browser.min.js",
    "jspsych.css": "jspsych/css/jspsych.css",
    "plugin-preload.js": "@jspsych/plugin-preload/dist/index.browser.min.js",
    "plugin-browser-check.js": "@jspsych/plugin-browser-check/dist/index.browser.min.js",
    "plugin-fullscreen.js": "@jspsych/plugin-fullscreen/dist/index.browser.min.js",
    "plugin-html-keyboard-response.js": "@jspsych/plugin-html-keyboard-response/dist/index.browser.min.js",
    "plugin-virtual-chinrest.js": "@jspsych/plugin-virtual-chinrest/dist/index.browser.min.js",
}
TASK_FILES = ("task.js", "plugins.js", "transport.js", "style.css")
PREFIX = "mrdData("


def data_script(key: str, value: dict[str, Any]) -> str:
    """The text of a bundle data file: ``mrdData("key",\\n<JSON>\\n);``."""
    return f"{PREFIX}{json.dumps(key)},\n{json.dumps(value, separators=(',', ':'))}\n);\n"


def parse_data_script(text: str) -> tuple[str, dict[str, Any]]:
    """Inverse of :func:`data_script`; raises ``ValueError`` on anything else."""
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0].startswith(PREFIX) or not lines[0].endswith(",") or lines[2] != ");":
        raise ValueError("not an mrdData(...) file")
    return json.loads(lines[0][len(PREFIX) : -1]), json.loads(lines[1])


def read_data_file(path: Path) -> dict[str, Any]:
    """Read a bundle data file, raising :class:`MRDError` naming it when it is missing or damaged."""
    try:
        return parse_data_script(path.read_text(encoding="utf-8"))[1]
    except FileNotFoundError:
        raise MRDError(f"{path}: missing; is this a bundle written by `mrd export-online`?") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MRDError(f"{path}: damaged bundle data file ({exc})") from None


def read_manifest(bundle: str | Path) -> dict[str, Any]:
    """The manifest of a bundle folder (checked for its format)."""
    manifest = read_data_file(Path(bundle) / "data" / "manifest.js")
    if manifest.get("format") != FORMAT:
        raise MRDError(
            f"{bundle}/data/manifest.js: format {manifest.get('format')!r}, this suite reads {FORMAT!r}"
        )
    return manifest


def plan_path(bundle: str | Path, participant: str, session: int) -> Path:
    """Where a session's plan lies in a bundle."""
    from stimuli.sessions import session_stem

    return Path(bundle) / "data" / "plans" / f"{session_stem(participant, session)}.js"


def parse_participants(spec: str) -> list[str]:
    """Participant ids from ``--participants``: a comma list, or a number ``N`` (``web001``..).

    Examples
    --------
    >>> parse_participants("P01,P02"), parse_participants("3")
    (['P01', 'P02'], ['web001', 'web002', 'web003'])
    """
    from psychophysics.datafile import check_participant

    spec = spec.strip()
    if spec.isdigit():
        n = int(spec)
        if not 1 <= n <= 10000:
            raise MRDError(f"--participants {spec}: give 1..10000 participants or a list of ids")
        width = max(3, len(str(n)))
        return [f"web{i:0{width}d}" for i in range(1, n + 1)]
    ids = [p.strip() for p in spec.split(",") if p.strip()]
    if not ids or len(set(ids)) != len(ids):
        raise MRDError(f"--participants {spec!r}: give distinct comma-separated ids, or a number")
    for p in ids:
        check_participant(p, 1)
    return ids


def _vendor_source(node_modules: Path) -> dict[str, Path]:
    files = {name: node_modules / rel for name, rel in VENDOR_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise MRDError(
            f"jsPsych is not installed: {missing[0]} is missing. Run `make setup` (or "
            f"`npm ci --prefix {HERE}`) once; the bundle then needs no internet"
        )
    return files


def _jspsych_version(node_modules: Path) -> dict[str, str]:
    out = {}
    for rel in ("jspsych", *sorted({v.split("/dist")[0] for v in VENDOR_FILES.values() if v.startswith("@")})):
        pkg = node_modules / rel / "package.json"
        out[rel] = json.loads(pkg.read_text(encoding="utf-8"))["version"]
    return out


class _ImageWriter:
    """Writes each distinct image once as ``images/<sha256[:20]>.png``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[str, str] = {}
        folder.mkdir(parents=True)

    def name(self, arr: Any) -> str:
        import numpy as np
        from PIL import Image

        a = np.ascontiguousarray(arr, dtype=np.uint8)
        key = hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()[:20]
        if key not in self.names:
            buf = io.BytesIO()
            Image.fromarray(a).convert("RGB").save(buf, format="PNG", compress_level=6)
            (self.folder / f"{key}.png").write_bytes(buf.getvalue())
            self.names[key] = f"images/{key}.png"
        return self.names[key]


def _keys(config: Any) -> dict[str, Any]:
    from psychophysics.online.keys import browser_keymap

    k = config.keys
    groups = {name: list(getattr(k, name)) for name in ("position_1", "position_2", "position_3", "quit", "proceed")}
    names = [n for g in groups.values() for n in g]
    return {"psychopy": groups, "browser": {g: list(browser_keymap(v)) for g, v in groups.items()},
            "to_psychopy": browser_keymap(names)}


def _lab_plan(stimuli_path: str | Path, participant: str, session: int, config_path: str | Path | None,
              scratch: Path, items: Any) -> tuple[dict[str, Any], list[Any], list[int]]:
    """The lab's plan of a session, made by the lab's own preparation into a scratch folder.

    :func:`psychophysics.preparation.prepare` is the code ``mrd experiment`` runs, so the plan (its
    trials, seed, key order, selection counts, whatever it records) is the lab's by construction.
    """
    from psychophysics.preparation import prepare

    prep = prepare(stimuli_path, participant, session, config_path, scratch / f"{participant}-{session}",
                   uses_psychopy=False, validate=False, items=items)
    try:
        plan = prep.files.read_plan()
    finally:
        prep.store.close()
    return plan, list(prep.trials), list(getattr(prep, "key_order", [1, 2, 3]))


def _participant_keys(config: Any, order: list[int]) -> dict[str, Any]:
    """The keys of positions 1..3 for this participant: position ``i`` gets the keys of ``order[i-1]``."""
    from psychophysics.online.keys import browser_key

    keys = {f"position_{p}": list(getattr(config.keys, f"position_{o}")) for p, o in zip((1, 2, 3), order, strict=True)}
    return {"keys": keys, "keys_browser": {k: [browser_key(n) for n in v] for k, v in keys.items()}}


def export_bundle(
    stimuli_path: str | Path,
    out: str | Path,
    participants: list[str],
    config_path: str | Path | None = None,
    sessions: tuple[int, ...] = (1,),
    endpoint: str | None = "api",
    calibration: str = "chinrest",
    blindspot_reps: int = 5,
    node_modules: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write a static bundle of the oddity task.

    Parameters
    ----------
    stimuli_path : str or Path
        The stimulus set (validated).
    out : str or Path
        The bundle folder; must not exist or be empty.
    participants : list of str
        Participant ids with a plan in the bundle.
    config_path : str, Path or None
        Experiment config (``None``: the shipped default).
    sessions : tuple of int
        Session numbers planned for every participant.
    endpoint : str or None
        Collection endpoint: ``"api"`` (``mrd serve-online`` at the page's own address), an
        absolute URL, ``"jatos"`` (JATOS result data through ``jatos.js``) or ``None`` (no server:
        data stay in the browser and are offered as a file).
    calibration : str
        ``"chinrest"`` (credit card, then blind-spot viewing distance) or ``"card"`` (credit card;
        the viewing distance is the config's ``monitor.distance_cm``).
    blindspot_reps : int
        Blind-spot measurements (``chinrest`` only).
    node_modules : str or Path, optional
        Where jsPsych is installed (default: next to this module, from ``npm ci``).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The manifest written.

    Raises
    ------
    MRDError
        Invalid store, config or keys, an existing non-empty ``out``, missing jsPsych.

    Examples
    --------
    >>> export_bundle("set.h5", "web", ["P01"], calibration="ruler")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: --calibration 'ruler': choose 'chinrest' or 'card'
    """
    from tqdm import tqdm

    from psychophysics.config import load_config
    from psychophysics.design import items_from_store
    from psychophysics.images import TrialImages
    from psychophysics.preparation import check_store
    from stimuli import StimulusSet
    from stimuli.sessions import TRIAL_COLUMNS, session_stem
    from stimuli.version import suite_version

    out = Path(out)
    if calibration not in ("chinrest", "card"):
        raise MRDError(f"--calibration {calibration!r}: choose 'chinrest' or 'card'")
    if calibration == "chinrest" and blindspot_reps < 1:
        raise MRDError(f"--blindspot-reps {blindspot_reps}: the chinrest needs at least 1 (or use --calibration card)")
    if any(s < 1 for s in sessions):
        raise MRDError(f"--sessions {list(sessions)}: session numbers are integers >= 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MRDError(f"{out}: exists and is not an empty folder; export into a new folder")
    vendor = _vendor_source(Path(node_modules) if node_modules else NODE_MODULES)
    check_store(stimuli_path)
    config = load_config(config_path)
    keys = _keys(config)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data" / "plans").mkdir(parents=True)
    (out / "vendor").mkdir()
    (out / "mrd").mkdir()
    for name, src in vendor.items():
        shutil.copyfile(src, out / "vendor" / name)
    for name in TASK_FILES:
        shutil.copyfile(STATIC / name, out / "mrd" / name)
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    if endpoint == "jatos":  # JATOS serves jatos.js next to the component's page
        html = html.replace('  <script src="data/manifest.js"></script>',
                            '  <script src="jatos.js"></script>\n  <script src="data/manifest.js"></script>')
    (out / "index.html").write_text(html, encoding="utf-8")
    images = _ImageWriter(out / "images")
    index: dict[str, dict[str, str]] = {}
    with StimulusSet(stimuli_path) as store, tempfile.TemporaryDirectory(prefix="mrd-export-") as scratch:
        digest = store.digest
        items = items_from_store(store)
        trial_images = TrialImages(store)
        jobs = [(p, s) for p in participants for s in sessions]
        for pid, ses in tqdm(jobs, desc="export-online plans", unit="session", disable=not progress):
            plan, trials, order = _lab_plan(stimuli_path, pid, ses, config_path, Path(scratch), items)
            for entry, t in zip(plan["trials"], trials, strict=True):
                entry["images"] = [images.name(a) for a in trial_images.arrays(t)]
            plan.update(_participant_keys(config, order))
            stem = session_stem(pid, ses)
            (out / "data" / "plans" / f"{stem}.js").write_text(data_script(f"plan:{stem}", plan), encoding="utf-8")
            index.setdefault(pid, {})[str(ses)] = f"data/plans/{stem}.js"
    manifest = {
        "format": FORMAT,
        "stimulus_set": str(Path(stimuli_path).resolve()),
        "stimulus_digest": digest,
        "experiment_config": config.to_dict(),
        "keys": keys,
        "participants": index,
        "endpoint": None if endpoint == "jatos" else endpoint,
        "host": "jatos" if endpoint == "jatos" else None,
        "calibration": {"method": calibration, "blindspot_reps": blindspot_reps if calibration == "chinrest" else 0,
                        "card_width_mm": 85.6, "card_height_mm": 53.98},
        "trial_columns": list(TRIAL_COLUMNS),
        "n_images": len(images.names),
        "versions": {"suite": suite_version(), **_jspsych_version(Path(node_modules) if node_modules else NODE_MODULES)},
    }
    (out / "data" / "manifest.js").write_text(data_script("manifest", manifest), encoding="utf-8")
    return manifest
