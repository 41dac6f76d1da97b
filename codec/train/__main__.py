"""`python -m codec.train`: the training loop (what `lstm-codec train` and torchrun run)."""
from codec.train.trainer import main

main()
