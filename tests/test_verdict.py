"""Verdicts in words (codec/rd/verdict.py): on MS-SSIM, SSIMULACRA2 and PSNR at once, each with
its range, saying where a curve ends short and when the metrics disagree in sign."""
import math

import pytest

from codec.rd.evaluate import EvalResult, summary_lines
from codec.rd.verdict import disagreement, sentence, trained_for, verdicts

JPEG = {"bpp": [0.25, 0.5, 1.0, 2.0], "psnr-rgb": [28.0, 31.0, 34.0, 37.0],
        "ms-ssim-rgb": [0.90, 0.95, 0.98, 0.99], "ssimulacra2": [20.0, 45.0, 70.0, 88.0]}
# an MS-SSIM-trained codec: fewer bits on MS-SSIM, more on PSNR, and its SSIMULACRA2 stops at 46
LSTM = {"bpp": [0.2, 0.4, 0.8, 1.6], "psnr-rgb": [28.5, 30.0, 31.0, 31.5],
        "ms-ssim-rgb": [0.92, 0.96, 0.975, 0.98], "ssimulacra2": [25.0, 40.0, 45.0, 46.0]}


def test_three_verdicts_with_ranges_where_a_curve_ends_and_the_disagreement():
    found = {v.scale: v for v in verdicts(JPEG, LSTM)}
    assert list(found) == ["ms-ssim-rgb-db", "ssimulacra2", "psnr-rgb"]
    assert found["ms-ssim-rgb-db"].bd < 0 < found["psnr-rgb"].bd
    s2 = found["ssimulacra2"]
    assert s2.span == (25.0, 46.0) and s2.test_top == 46.0 and s2.anchor_top == 88.0
    assert s2.ends_short() == "test"
    text = sentence(s2, "the LSTM", "JPEG")
    assert "from 25.0 to 46.0" in text and "the LSTM's curve ends at 46.0, JPEG's reaches 88.0" in text
    said = disagreement(list(found.values()), "the LSTM", "JPEG")
    assert said.startswith("The metrics disagree:") and "PSNR (dB) favours JPEG" in said
    assert disagreement([found["ms-ssim-rgb-db"]], "the LSTM", "JPEG") is None


def test_no_overlap_gives_no_verdict_and_a_missing_metric_no_line():
    far = {"bpp": [0.1, 0.2], "psnr-rgb": [10.0, 11.0], "ms-ssim-rgb": [0.1, 0.2]}
    found = verdicts(JPEG, far)
    assert [v.scale for v in found] == ["ms-ssim-rgb-db", "psnr-rgb"]  # no SSIMULACRA2 measured: no line
    assert all(math.isnan(v.bd) for v in found)
    assert sentence(found[0], "the LSTM", "JPEG").endswith("no verdict (the curves do not overlap)")


def test_the_training_objective_is_named_from_the_checkpoint():
    assert trained_for({"train_settings": {"loss": "l1+ms-ssim", "msssim_weight": 0.84}}).startswith("MS-SSIM (0.84")
    assert "falling to 0.20" in trained_for({"train_settings": {"loss": "l1+ms-ssim", "msssim_weight": 0.84,
                                                                "msssim_weight_last": 0.2}})
    assert trained_for({"train_settings": {"loss": "l1"}}) == "L1"
    assert trained_for({}) == "an unrecorded loss"


def test_evals_summary_carries_every_verdict():
    from codec.rd.bd import bd_rates
    res = EvalResult(curves={"lstm": LSTM, "jpeg": JPEG}, bd={"jpeg": bd_rates(JPEG, LSTM)})
    text = "\n".join(summary_lines(res, "MS-SSIM (0.84·(1 − MS-SSIM) + L1)"))
    assert "trained for MS-SSIM" in text
    for label in ("MS-SSIM (dB): the LSTM needs", "SSIMULACRA2: the LSTM needs", "PSNR (dB): the LSTM needs"):
        assert label in text
    assert "The metrics disagree" in text
    assert res.bd["jpeg"]["ssimulacra2"] == pytest.approx(verdicts(JPEG, LSTM)[1].bd)
