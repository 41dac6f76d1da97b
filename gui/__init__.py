"""lstm-compare's Qt application: a thin layer over the codec library (no codec logic here)."""
