"""The promotion gate: a challenger replaces the champion only when it is better where it matters.

Both models are measured on the same two sets (`measure.star_figures`):

- **recent**: the newest stored reviews, held out by time and never trained on in the round:
  what visitors write now. The challenger must beat the champion's band accuracy there by at
  least `margin`.
- **fixed**: a fixed sample of the bundled model's held-out test rows, the same every round: the
  challenger must not have forgotten the other domains, nor learnt inverted labels that the
  recent reviews happen to share. A challenger's suggestion is fitted for the rating mix of its
  visitors (`scoring.RatingPrior`); a page whose visitors write more mixed reviews is then
  right to suggest 3 stars more often, which costs band accuracy on the fixed test's mix (mostly
  1 and 5 stars) without anything forgotten. So on the fixed test the challenger suggests each
  band as often as the champion does there (`fixed_at_champion_rates`), and is judged by
  measures that the test's own mix does not move: balanced band accuracy and the score's rank
  correlation with the stars may each fall at most `tolerance`, the recall of each band at most
  `band_tolerance`. At the same rates they differ only where the models rank the texts
  differently: forgetting shows in them (a damaged CNN, one domain's knowledge lost); a new mix
  of visitors, or a rule that trades one band's recall for another's, does not.

Fewer than `min_recent` recent reviews judge nothing: the champion stays. And the recent ratings
must broadly agree with what the champion reads in their texts (Spearman correlation of its
score with the stars at least `min_correlation`): honest reviews of a new domain are read
imperfectly, never backwards (docs/learning_loop.md gives the bundled model's correlations),
while inverted stars posted from many addresses, which no filter sees, correlate negatively; a
challenger learnt from them could pass the other two rules, since such poison aimed at one
domain barely moves the fixed test. Every decision comes with its reason, recorded in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METRIC = "band_accuracy"  # on the recent reviews
FIXED_METRICS = ("band_balanced_accuracy", "score_correlation")  # on the fixed test, within tolerance


@dataclass(frozen=True)
class GateRules:
    """The thresholds of the gate (RETRAIN_MARGIN, RETRAIN_TOLERANCE, RETRAIN_BAND_TOLERANCE)."""

    margin: float = 0.01
    tolerance: float = 0.02
    band_tolerance: float = 0.05
    min_recent: int = 30
    min_correlation: float = 0.2


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and why."""

    promote: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason}


def fixed_losses(champion: dict[str, Any], challenger: dict[str, Any], rules: GateRules) -> list[str]:
    """What the challenger lost on the fixed test beyond its tolerance, one phrase each (none: kept)."""
    losses = []
    for name in FIXED_METRICS:
        before, after = champion.get(name), challenger.get(name)
        if before is not None and after is not None and before - after > rules.tolerance:
            losses.append(f"{name} {before:.4f} -> {after:.4f} (tolerance {rules.tolerance})")
    recall_before, recall_after = champion.get("band_recall", {}), challenger.get("band_recall", {})
    for band, before in recall_before.items():
        after = recall_after.get(band)
        if after is not None and before - after > rules.band_tolerance:
            losses.append(f"{band} recall {before:.4f} -> {after:.4f} (tolerance {rules.band_tolerance})")
    return losses


def decide(
    champion: dict[str, dict[str, Any]], challenger: dict[str, dict[str, Any]], rules: GateRules
) -> Decision:
    """Compare the figures `{"recent": {...}, "fixed": {...}}` of both models by the rules.

    The challenger's `fixed_at_champion_rates` figures, when present, stand for its `fixed` ones.
    """
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
    fixed = challenger.get("fixed_at_champion_rates") or challenger["fixed"]
    recent_gain = challenger["recent"][METRIC] - champion["recent"][METRIC]
    balanced = "band_balanced_accuracy"
    figures = (
        f"recent {champion['recent'][METRIC]:.4f} -> {challenger['recent'][METRIC]:.4f} "
        f"({recent_gain:+.4f}, margin {rules.margin}), fixed balanced "
        f"{champion['fixed'].get(balanced, 0.0):.4f} -> {fixed.get(balanced, 0.0):.4f} "
        "at the champion's rates"
    )
    if losses := fixed_losses(champion["fixed"], fixed, rules):
        return Decision(False, f"forgot on the fixed test: {'; '.join(losses)}; {figures}")
    if recent_gain < rules.margin:
        return Decision(False, f"not better enough on the recent reviews: {figures}")
    return Decision(True, f"better on the recent reviews, nothing forgotten on the fixed test: {figures}")
