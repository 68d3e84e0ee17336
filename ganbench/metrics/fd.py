"""Fréchet distance in another network's feature space: FD_DINOv2 and its relatives.

Stein, Cresswell, Hosseinzadeh, Sui, Ross, Villecroze, Liu, Caterini, Taylor &
Loaiza-Ganem 2023, "Exposing flaws of generative model evaluation metrics and their
unfair treatment of diffusion models" (NeurIPS 2023; layer6ai-labs/dgm-eval): FID's
Fréchet distance between Gaussians fitted to features, computed on DINOv2 ViT-L/14's CLS
features instead of Inception's pool3, ranks generators as human judges do.

The distance is FID's own code (fid.py: frechet_distance, gaussian_stats); only the
features differ (features/dinov2.py, features/clip.py: each with its reference's
preprocessing). dgm-eval's FD (dgm_eval/metrics/fd.py, compute_FD_with_reps) is pytorch-fid's
formula with numpy.cov and scipy's sqrtm; the values agree to float rounding
(tests/test_feature_spaces.py holds them to pytorch-fid's calculate_frechet_distance).
The key names the space: fd_dinov2_vit_l14, fd_clip_vit_l14_336, ...
"""

from __future__ import annotations

from ganbench.features import clip, dinov2
from ganbench.metrics.base import MetricFn
from ganbench.metrics.features import feature_metric
from ganbench.metrics.fid import frechet_score
from ganbench.registry import METRICS

#: The extractors FD is meant for (FID is FD on "inception"; fid-mnist on the classifier).
FD_EXTRACTORS = (*dinov2.ARCHITECTURES, *clip.ARCHITECTURES)


def fd_key(extractor: str) -> str:
    """fd_dinov2_vit_l14 for "dinov2-vit-l14": which space a value is in, in its name."""
    return "fd_" + extractor.replace("-", "_")


@METRICS.register(
    "fd",
    requires={"images"},
    keys=tuple(fd_key(e) for e in FD_EXTRACTORS),
    names={fd_key(e): f"FD, {e}" for e in FD_EXTRACTORS},
    choices={"extractor": FD_EXTRACTORS},
    roles={
        "samples": "samples",
        "extractor": "extractor",
        "real_split": "real_split",
        "weights": "weights",
    },
)
def fd(
    *,
    extractor: str = "dinov2-vit-l14",
    samples: int = 10000,
    real_split: str = "test",
    batch_size: int = 50,
    weights: str = "",
) -> MetricFn:
    """Fréchet distance on DINOv2 or CLIP features (FD_DINOv2: Stein et al. 2023, as
    dgm-eval computes it), N generated vs N real images; needs the network's weights."""
    score = frechet_score(fd_key(extractor))
    return feature_metric(score, extractor, samples, real_split, batch_size, weights=weights)
