"""Figures the notebooks share: what a plot claims to show is where it is drawn."""
import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from clipbook import plots  # noqa: E402


def test_interval_bars_draws_each_interval_at_its_bar():
    rows = pd.DataFrame([{"encoder": e, "step": s, "value": v, "low": v - 0.1, "high": v + 0.2}
                         for e, v0 in (("a", 1.0), ("b", 2.0)) for s, v in (("family", v0), ("title block", v0 / 2))])
    fig, ax = plt.subplots()
    plots.interval_bars(ax, rows, "encoder", "step")
    bars = [bar for container in ax.containers if hasattr(container, "patches") for bar in container.patches]
    segments = [c for c in ax.collections if c.get_segments()]  # the error bars' vertical lines
    spans = sorted((round(float(seg[0][1]), 2), round(float(seg[1][1]), 2)) for c in segments for seg in c.get_segments())
    assert len(bars) == 4 and len(spans) == 4
    assert spans == sorted((round(v - 0.1, 2), round(v + 0.2, 2)) for v in rows["value"])
    # each error bar stands at the centre of the bar with its value
    for c in segments:
        for seg in c.get_segments():
            x = float(seg[0][0])
            bar = next(b for b in bars if abs(b.get_x() + b.get_width() / 2 - x) < 1e-6)
            assert bar.get_height() == pytest.approx(float(seg[0][1]) + 0.1)
    with pytest.raises(ValueError, match=r"rows lacks the columns \['high'\]"):
        plots.interval_bars(ax, rows.drop(columns="high"), "encoder", "step")
    plt.close(fig)


def test_plot_history_adds_the_gradient_norm_where_it_was_logged():
    history = {"step": [0, 1, 2, 3], "loss": [4.0, 3.0, 5.0, 2.0], "logit_scale": [14.3, 14.5, 14.6, 15.0],
               "lr": [1e-4, 2e-4, 2e-4, 1e-4]}
    fig = plots.plot_history(history, batch_size=64)
    assert len(fig.axes) == 3
    plt.close(fig)
    fig = plots.plot_history({**history, "grad_norm": [0.5, 3.0, 40.0, 0.8]}, batch_size=64, grad_clip_norm=1.0)
    assert len(fig.axes) == 4
    grad = fig.axes[3]
    assert grad.get_yscale() == "log"
    curve, clip = grad.get_lines()[0], grad.get_lines()[-1]
    assert list(curve.get_ydata()) == [0.5, 3.0, 40.0, 0.8]
    assert list(clip.get_ydata()) == [1.0, 1.0]  # the clip drawn where the norm is cut
    plt.close(fig)
    # clipping at infinity (logged, nothing cut) draws no line at infinity
    fig = plots.plot_history({**history, "grad_norm": [0.5, 3.0, 40.0, 0.8]}, grad_clip_norm=float("inf"))
    assert len(fig.axes[3].get_lines()) == 1
    plt.close(fig)
