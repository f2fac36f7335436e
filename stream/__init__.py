"""Sway: live, explainable, hard-to-game influence scores from social interactions on Kafka."""

__version__ = "0.1.0"
