"""Make one material metamer of a small scene and look at it (about 30 s on 2 CPU cores).

Run: ``.venv/bin/python examples/01_one_metamer.py [OUT_DIR]``. Writes ``one_metamer.png``: the
target, the start and the metamer side by side, with the loss curve.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script: no window (in a notebook, leave this out)

import matplotlib.pyplot as plt  # noqa: E402

import mrd  # noqa: E402
from mrd.config import RenderSettings, SceneSpec, SynthesisSettings  # noqa: E402
from mrd.models import ModelSpec  # noqa: E402
from mrd.render.tonemap import display_image  # noqa: E402
from mrd.render.variant import use_variant  # noqa: E402


def main(out: Path) -> Path:
    use_variant("llvm_ad_rgb")
    settings = SynthesisSettings(
        render=RenderSettings(resolution=48, views=1, spp=8, display_spp=64, max_depth=2, distance=3.2),
        optimize={"steps": 25, "target_renders": 2, "lr": {"material": 0.15}, "stop_on_success": False},
        null={"draws": 2},
    )
    target = mrd.Target.from_spec(SceneSpec(id="ball", material={"base_color": [0.8, 0.25, 0.2]}), settings.render)
    model = mrd.load_model(ModelSpec(name="mobilenetv2_100", layers=["blocks.2", "blocks.4"]))
    metamer = mrd.Metamer(target, model, "material", settings).setup(seed=1)
    metamer.synthesize()
    start = metamer.params("start")
    target.renderer.set_params(start, ("material",))
    start_img = display_image(target.renderer.render_display(64, seed=5))
    target.reset()
    final_img = display_image(metamer.render())
    print(f"{metamer.steps} steps, stop: {metamer.stop_reason}; base colour target "
          f"{target.params['material']['base_color'].round(2)}, metamer {metamer.final['base_color'].round(2)}")

    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    for ax, img, title in zip(axes, (target.display[0], start_img[0], final_img[0]), ("target", "start", "metamer"), strict=False):
        ax.imshow(img)
        ax.set_title(title)
        ax.axis("off")
    axes[3].plot(metamer.losses)
    axes[3].set_xlabel("step")
    axes[3].set_ylabel("loss (rel. L2)")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "one_metamer.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("examples_output")))
