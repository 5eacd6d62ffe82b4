"""The served model in the API: loading, micro-batching, load shedding, shadow scoring, hot swap."""
