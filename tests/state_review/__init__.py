"""Reproducers of a review of the rewrite's facts about module state (tests/test_state_review.py)."""
