"""Helpers of bench/score.py (the injection-detection scoring harness)."""
