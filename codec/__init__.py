"""lstm-compare's codec library: a progressive LSTM image codec and the classical codecs it is compared with.

No Qt here: the GUI in gui/ is a thin layer over this package.
"""
__version__ = "0.1.0"
