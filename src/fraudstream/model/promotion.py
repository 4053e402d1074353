"""Roll the endpoint to a retrained model only if it wins: the decision, as a pure function.

Both reports come from :func:`fraudstream.model.evaluation.evaluate` on the *same* test rows, each
model at its own served threshold (the honest comparison: what each would flag in production).
The candidate wins when its PR-AUC is higher by more than ``min_pr_auc_gain`` and it gives up no
more than ``max_recall_drop`` recall or ``max_precision_drop`` precision at its threshold: a better
ranking that floods analysts or misses more fraud at the operating point is not a win. A tie keeps
the current model (a redeploy costs an endpoint rollout and proves nothing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class NotComparableError(ValueError):
    """The two reports cannot decide anything (different rows, or no fraud to rank)."""


@dataclass(frozen=True)
class PromotionRule:
    min_pr_auc_gain: float = 0.0
    max_recall_drop: float = 0.02
    max_precision_drop: float = 0.02


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    candidate: dict[str, float]
    current: dict[str, float] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _figures(report: dict[str, Any]) -> dict[str, float]:
    at = report["at_threshold"]
    return {
        "pr_auc": float(report["pr_auc"]),
        "precision": float(at["precision"]),
        "recall": float(at["recall"]),
        "threshold": float(at["threshold"]),
    }


def decide(candidate: dict[str, Any], current: dict[str, Any] | None, rule: PromotionRule | None = None) -> Decision:
    """Promote the candidate or keep the current model; NotComparableError when the reports differ
    in the rows they were computed on, or hold no fraud."""
    rule = rule or PromotionRule()
    if not candidate.get("frauds"):
        raise NotComparableError("the candidate's test period holds no fraud: PR-AUC and recall mean nothing")
    cand = _figures(candidate)
    if current is None:
        return Decision(True, "no current model to beat", cand, None)
    same = ("rows", "frauds", "period")
    if any(candidate.get(k) != current.get(k) for k in same):
        mismatch = {k: (candidate.get(k), current.get(k)) for k in same if candidate.get(k) != current.get(k)}
        raise NotComparableError(f"the reports were not computed on the same test rows: {mismatch}")
    cur = _figures(current)
    gain = cand["pr_auc"] - cur["pr_auc"]
    if gain <= rule.min_pr_auc_gain:
        return Decision(False, f"PR-AUC {cand['pr_auc']:.4f} does not beat {cur['pr_auc']:.4f}", cand, cur)
    for name, limit in (("recall", rule.max_recall_drop), ("precision", rule.max_precision_drop)):
        drop = cur[name] - cand[name]
        if drop > limit:
            return Decision(
                False,
                f"PR-AUC +{gain:.4f} but {name} at the threshold drops {drop:.4f} (> {limit})",
                cand,
                cur,
            )
    return Decision(True, f"PR-AUC +{gain:.4f}, recall and precision at the threshold held", cand, cur)
