"""FNC-1 stance labels: the one place they are defined."""

from __future__ import annotations

STANCE_LABELS: tuple[str, ...] = ("agree", "disagree", "discuss", "unrelated")

# What each label means for a briefing reader: does the article assert the claim,
# only report it, dispute it, or not address it at all.
STANCE_READINGS: dict[str, str] = {
    "agree": "asserts",
    "disagree": "disputes",
    "discuss": "reports",
    "unrelated": "does not address",
}
