"""The character-level CNN: encoding, model, checkpoint, data, training and evaluation.

`config`, `encoding`, `model`, `checkpoint`, `scoring` and `predictor` are the single source
of truth that the API serves from; they need only torch, numpy and safetensors.
"""
