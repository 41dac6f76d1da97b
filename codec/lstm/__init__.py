"""The progressive LSTM codec: the network, the coder, the .lstm format, entropy coding, encoders, refinement, shipped models."""
