"""`ganbench report RUN`: one self-contained HTML page per run, pictures embedded.

Tables and checks come from result.json; sample grids, MoG scatter plots and
loss curves from the run's pictures/; latent interpolations (linear and
spherical) and a latent walk are drawn from each model's final checkpoint of
the first seed, rebuilt with the parameters the result file recorded.

A run folder may come from someone else (docs/security.md): its names are escaped and
made file names (RunFolder), its pictures are embedded only when they are regular files
inside the run folder, and what the report draws and writes stays inside it.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

from tabulate import tabulate

from ganbench import formatting
from ganbench.errors import GanbenchError
from ganbench.evaluate import trained_gan
from ganbench.formatting import format_number
from ganbench.metrics import extras
from ganbench.publishing import tables
from ganbench.registry import has_capability
from ganbench.results.confined import inside, regular_file_inside, write_inside
from ganbench.results.files import (
    PAIR_PICTURES,
    RunFolder,
    job_name,
    load_result,
    mean_std,
    pair_name,
)
from ganbench.runtime import conditions
from ganbench.training.network_summary import HEADERS, summarise, summary_rows
from ganbench.viz.diagnostics import save_digit_diagnostics
from ganbench.viz.latent import save_image_strips, save_point_paths

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f3f3f3}h2{border-bottom:1px solid #ddd;margin-top:2em}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}figcaption{font-size:90%;
color:#555}img{max-width:100%;image-rendering:pixelated}.pass{color:#080}.fail{color:#b00}
.wide{overflow-x:auto}"""


def esc(value: Any) -> str:
    """Anything that comes from the result file, inert in HTML (it may be anyone's)."""
    return formatting.escape(value, "html")


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _img(path: Path, caption: str) -> str:
    raw = path.read_bytes()
    if (
        not raw.startswith(PNG_MAGIC)
        or len(raw) < 24
        or not raw.rstrip(b"\0").endswith(b"IEND\xaeB`\x82")
    ):
        return (
            f"<p>{esc(path.name)} ({esc(caption)}) is damaged or truncated; rerun to redraw it</p>"
        )
    width = struct.unpack(">I", raw[16:20])[0]  # PNG IHDR; small grids are shown at 2x
    data = base64.b64encode(raw).decode()
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}" '
        f'width="{width * 2 if width < 400 else width}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _model_section(
    result: dict[str, Any], run_dir: Path, model: str, dataset: str, seed: int
) -> list[str]:
    """From the job's checkpoint: latent interpolations, the network summary, (digit
    datasets) the diagnostics pictures, and each metric's own pictures (metrics/extras.py;
    those that need no generator are drawn without a checkpoint too)."""
    folder = inside(run_dir, RunFolder(run_dir).pictures)
    name = RunFolder(run_dir).pair_stem(model, dataset)
    try:
        gan, data = trained_gan(run_dir, model, dataset, seed, result)
        missing = ""
    except GanbenchError as e:
        gan = data = None
        missing = str(e)
    parts = []
    if gan is None:
        parts.append(
            f"<p>No latent or diagnostic pictures: {esc(missing)}. Checkpoints stay where a "
            "job trained (results/**/checkpoints/ is not committed): make the report there, "
            "before the run folder is copied or committed.</p>"
        )
    else:
        if has_capability(data, "modes"):
            pictures = save_point_paths(gan, seed, data.means, folder, f"{name}_latent")
        else:
            pictures = save_image_strips(gan, seed, folder, f"{name}_latent")
        parts += [_img(path, LATENT_CAPTIONS[kind]) for kind, path in pictures.items()]
        if has_capability(data, "digits"):
            diagnostics = save_digit_diagnostics(gan, data, seed, folder, name)
            parts += [_img(path, DIAGNOSTIC_CAPTIONS[kind]) for kind, path in diagnostics.items()]
    measured = result["results"].get(model, {}).get(dataset, {})
    for metric in extras.metric_names(measured):
        draw = extras.hook(metric, "report")
        if draw is None:
            continue
        own = {k: m for k, m in measured.items() if m.get("metric") == metric}
        title = formatting.escape(f"{model} on {dataset}", "plot")  # a matplotlib title
        context = extras.MetricPictures(own, folder, name, title, seed, gan, data)
        parts += [_img(path, caption) for path, caption in draw(context)]
    if gan is not None:
        summaries = summarise(gan, data.sample_shape)
        parts.append(
            "<h3>Networks</h3>"
            + tabulate(summary_rows(summaries), headers=HEADERS, tablefmt="html")
            + "<p>FLOPs: one forward pass in eval mode, matrix multiplications and "
            "convolutions only (torch's FlopCounterMode), per sample.</p>"
        )
    return parts


LATENT_CAPTIONS = {
    "linear": "linear interpolation between latent points",
    "spherical": "spherical interpolation (slerp)",
    "walk": "latent walk along the first latent coordinate, -3 to 3",
}
DIAGNOSTIC_CAPTIONS = {
    "nearest": "nearest neighbours: each generated sample (left), then its 6 nearest "
    "training images as near copies (blurred, standardised, shifted by up to 2 px)",
    "features": "MNIST-classifier features of test and generated images, coloured by "
    "predicted digit",
    "arithmetic": "latent arithmetic: top, G(mean latent of 3 samples of each predicted "
    "digit 0-9); "
    "below, G(mean a), G(mean b), G(mean c), G(mean a - mean b + mean c) for "
    "(a, b, c) = (7, 1, 0), (9, 4, 3), (8, 3, 2)",
}


def _curve_table(per_seed: dict[str, Any]) -> list[str]:
    """The metrics measured during training as a table: at each step every seed was
    evaluated at, each key's mean ± std over the seeds."""
    evaluations = [c.get("evaluations") or {} for c in per_seed.values()]
    evaluations = [e for e in evaluations if e.get("steps")]
    if not evaluations:
        return []
    steps = sorted(set.intersection(*(set(e["steps"]) for e in evaluations)))
    keys = list(evaluations[0].get("values", {}))
    rows = []
    for step in steps:
        row = [f"{step:,}"]
        for key in keys:
            values = [
                e["values"][key][e["steps"].index(step)]
                for e in evaluations
                if key in e.get("values", {})
            ]
            values = [v for v in values if v is not None]
            if not values:
                row.append("n/a")
                continue
            mean, std = mean_std(values)
            row.append(f"{format_number(mean)} ± {format_number(std)}")
        rows.append(row)
    header = ["step", *keys]
    return [
        f"<p>measured during training: mean ± std over {len(evaluations)} seeds</p>"
        + tabulate(rows, headers=header, tablefmt="html")
    ]


def _training_section(result: dict[str, Any], model: str, dataset: str, name: str) -> list[str]:
    """The metrics measured during training, as a table, and the best step of each seed."""
    per_seed = result.get("training", {}).get(model, {}).get(dataset, {})
    lines = []
    for seed, curves in sorted(per_seed.items(), key=lambda item: int(item[0])):
        best = (curves.get("evaluations") or {}).get("best")
        if best:
            lines.append(
                f"<li>seed {esc(seed)}: best {esc(best['key'])} {format_number(best['value'])} "
                f"at step {esc(best['step'])} (checkpoints/{esc(best['checkpoint'])})</li>"
            )
    return _curve_table(per_seed) + ([f"<ul>{''.join(lines)}</ul>"] if lines else [])


def build(run_dir: Path) -> str:
    result = load_result(run_dir)
    s = result["suite"]
    seed = s["budget"]["seeds"][0]
    parts = [
        f"<h1>{esc(tables.run_title(result))}</h1>",
        '<ul class="facts">'
        + "".join(f"<li>{esc(fact)}</li>" for fact in tables.run_facts(result))
        + "</ul>",
        '<h2 id="results">Results</h2>',
        f'<div class="wide">{tables.render(result["results"], "html")}</div>',
        f"<p>mean ± sample std over seeds; ↑ higher is better, ↓ lower is better; "
        f"{esc(tables.units_line(result['results']))}</p>",
        *[f"<p>{esc(line)}</p>" for line in conditions.notes(result["results"])],
    ]
    if result.get("checks"):
        parts.append('<h2 id="checks">Checks</h2><ul>')
        for check in result["checks"]:
            css, word = ("pass", "PASSED") if check["passed"] else ("fail", "FAILED")
            parts.append(
                f'<li class="{css}">{word} {esc(check["target"])} '
                f"{esc(check['condition'])} (measured {esc(check['measured'])})</li>"
            )
        parts.append("</ul>")
    if result.get("references"):
        parts.append('<h2 id="references">Published references</h2><ul>')
        for v in result["references"]:
            css = {"REPRODUCED": "pass", "DIFFERS": "fail"}.get(v["verdict"], "")
            ours, pub = v["ours"], v["published"]
            spread = (
                f" ± {format_number(pub['sem'])} (s.e.)"
                if pub["sem"] is not None
                else f" ± {format_number(pub['std'])}"
                if pub["std"] is not None
                else ""
            )
            runs = f", n={pub['n']}" if pub["n"] else ""
            parts.append(
                f'<li class="{css}">{esc(v["verdict"])} {esc(v["target"])}: '
                f"ours {format_number(ours['mean'])} ± {format_number(ours['std'])} "
                f"(n={ours['n']}) vs published {format_number(pub['mean'])}{spread}{runs}, "
                f"{esc(pub['source'])} ({esc(v['statistic'])})</li>"
            )
        parts.append("</ul>")
    folder = RunFolder(run_dir)
    for model, datasets in result["results"].items():
        for dataset in datasets:
            name = pair_name(model, dataset)
            parts.append(f'<h2 id="{esc(name)}">{esc(model)} on {esc(dataset)}</h2>')
            for kind, caption in PAIR_PICTURES.items():
                path = regular_file_inside(run_dir, folder.picture(model, dataset, kind))
                if path is not None:
                    parts.append(
                        _img(path, f"{caption}, seed {seed}" if kind == "samples" else caption)
                    )
            parts += _training_section(result, model, dataset, name)
            parts += _model_section(result, run_dir, model, dataset, seed)
            for step, path in folder.step_pictures(job_name(model, dataset, seed)):
                if (path := regular_file_inside(run_dir, path)) is not None:
                    parts.append(_img(path, f"samples at step {step}"))
    body = "\n".join(parts)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>ganbench {esc(s['name'])} "
        f"run {esc(result['run'])}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def write_report(run_dir: Path) -> Path:
    if not RunFolder(run_dir).result.is_file():
        raise GanbenchError(f"{run_dir}: no result.json; pass a run folder or number")
    return write_inside(run_dir, RunFolder(run_dir).report, build(run_dir))
