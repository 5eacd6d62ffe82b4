"""The learning loop: stored reviews back into training, the promotion gate, one round.

See docs/learning_loop.md.
"""
