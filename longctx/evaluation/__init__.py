"""Evaluation harness (`longctx eval`): NIAH grid, RULER tasks, CUAD AUPR, SEC 10-Q; any `Reader`."""

from .cuad import run_cuad
from .niah import run_niah
from .report import aupr, heatmap_png, jaccard, precision_at_recall, precision_recall_curve
from .ruler import run_ruler, score_task
from .sec10q import run_sec10q

__all__ = [
    "aupr",
    "heatmap_png",
    "jaccard",
    "precision_at_recall",
    "precision_recall_curve",
    "run_cuad",
    "run_niah",
    "run_ruler",
    "run_sec10q",
    "score_task",
]
