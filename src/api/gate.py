"""The promotion gate: a challenger replaces the champion only when it is better where it matters.

Both models are measured on the same two sets (`finetune.star_figures`):

- **recent**: the newest stored reviews, held out by time and never trained on in the round:
  what visitors write now. The challenger must beat the champion's band accuracy there by at
  least `margin`.
- **fixed**: a fixed sample of the bundled model's held-out test rows, the same every round: the
  challenger may lose at most `tolerance` of band accuracy there, so it cannot forget the
  other domains, nor learn inverted labels that the recent reviews happen to share.

Fewer than `min_recent` recent reviews judge nothing: the champion stays. And the recent ratings
must broadly agree with what the champion reads in their texts (Spearman correlation of its
score with the stars at least `min_correlation`): honest reviews of a new domain are read
imperfectly, never backwards (the bundled model: 0.68 to 0.90 on each source of the corpus,
0.684 on the app reviews it never trained on), while inverted stars
posted from many addresses, which no filter sees, correlate negatively; a challenger learnt from
them could pass the other two rules, since such poison aimed at one domain barely moves the fixed
test. Every decision comes with its reason, recorded in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METRIC = "band_accuracy"


@dataclass(frozen=True)
class GateRules:
    """The thresholds of the gate (RETRAIN_MARGIN, RETRAIN_TOLERANCE)."""

    margin: float = 0.01
    tolerance: float = 0.02
    min_recent: int = 30
    min_correlation: float = 0.2


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and why."""

    promote: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason}


def decide(
    champion: dict[str, dict[str, Any]], challenger: dict[str, dict[str, Any]], rules: GateRules
) -> Decision:
    """Compare the figures `{"recent": {...}, "fixed": {...}}` of both models by the rules."""
    recent_n = int(challenger["recent"].get("n", 0))
    if recent_n < rules.min_recent:
        return Decision(False, f"only {recent_n} recent reviews to judge on ({rules.min_recent} needed)")
    correlation = champion["recent"].get("score_correlation")
    if correlation is not None and correlation < rules.min_correlation:
        return Decision(
            False,
            f"the recent ratings run against what the champion reads in their texts (Spearman "
            f"{correlation:+.3f} < {rules.min_correlation}): suspected coordinated poisoning",
        )
    recent_gain = challenger["recent"][METRIC] - champion["recent"][METRIC]
    fixed_loss = champion["fixed"][METRIC] - challenger["fixed"][METRIC]
    figures = (
        f"recent {champion['recent'][METRIC]:.4f} -> {challenger['recent'][METRIC]:.4f} "
        f"({recent_gain:+.4f}, margin {rules.margin}), fixed {champion['fixed'][METRIC]:.4f} -> "
        f"{challenger['fixed'][METRIC]:.4f} ({-fixed_loss:+.4f}, tolerance {rules.tolerance})"
    )
    if fixed_loss > rules.tolerance:
        return Decision(False, f"worse on the fixed test than the tolerance allows: {figures}")
    if recent_gain < rules.margin:
        return Decision(False, f"not better enough on the recent reviews: {figures}")
    return Decision(True, f"better on the recent reviews, within tolerance on the fixed test: {figures}")
