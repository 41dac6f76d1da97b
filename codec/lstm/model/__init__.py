"""The recurrent LSTM codec network (Toderici et al. 2017, with the paper's changes)."""
from codec.lstm.model.network import BLOCK, LSTMCodecNet

__all__ = ["BLOCK", "LSTMCodecNet"]
