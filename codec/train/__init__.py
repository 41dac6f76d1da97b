"""Training the LSTM codec: settings, training patches, the training loop."""
