"""The model as served and trained.

Encoding, the networks, the n-gram half, their pooling, the rating rule, legibility, the
checkpoint and the predictor: serving and training both import these, and nothing here trains.
"""
