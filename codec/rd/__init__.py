"""Rate-distortion measurement: RD points and BD-rates, per-image sessions, data set evaluation and its caches, figures."""
