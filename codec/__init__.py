"""lstm-compare's codec library: a progressive LSTM image codec and classical baselines.

No Qt here: the GUI in gui/ is a thin layer over this package.
"""
__version__ = "0.1.0"
