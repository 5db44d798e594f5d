"""Metrics: how a soundtrack follows its video, and how its harmony compares with real songs.

The AMT's training metrics live in `cuescore.evaluation.amt_metrics` (needs torch; not imported here).
"""

from cuescore.evaluation.correspondence import chord_changes, emotion_correspondence, evaluate, evaluate_plan, load_plan
from cuescore.evaluation.harmony_stats import chord_stats, map_label, plan_stats, pop909_stats, read_chord_file

__all__ = [
    "chord_changes", "chord_stats", "emotion_correspondence", "evaluate", "evaluate_plan", "load_plan", "map_label",
    "plan_stats", "pop909_stats", "read_chord_file",
]
