"""The learning loop: stored reviews back into training, the promotion gate, one round.

`retrain.py` is the command line (`retrain`); `retrain_round.py`
one round; `feedback.py` and `round_data.py` what it learns from; `finetune.py` the challenger;
`measure.py` and `gate.py` its judgement; `lock.py` and `errors.py` what keeps rounds apart.
See docs/learning_loop.md.
"""
