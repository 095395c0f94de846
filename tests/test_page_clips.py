"""Notebook 04's page CLIPs (one per caption detail of the quick profile's sweep), trained ahead of the notebook.

Under `make test` (two workers) this file's tests train them on one worker while the other runs notebooks 01-05
(and trains notebook 01's CLIP), so notebook 04, which comes next, loads every CLIP from data/checkpoints (the same
call, the same fingerprint) instead of training them on its own worker. Run alone, they are that training, moved
here.
"""
import pytest

import clipbook
from clipbook.profiles import profile_knobs

pytestmark = pytest.mark.notebook


# The notebook's own page CLIP ("family", its `clip` row, loaded right after SimCLR) first, then the rest of the sweep,
# which the notebook loads later, for its caption sweep: so the notebook never waits on a model it needs last.
SWEEP = profile_knobs("page_clip", "quick")["sweep"]
ORDER = ["family"] + [d for d in SWEEP if d != "family"]


@pytest.mark.parametrize("detail", ORDER)
def test_notebook_04s_page_clip_learns_its_captions(detail):
    # notebook 04's call on the quick profile: 128-px pages at scan realism 1, seed 0
    r = clipbook.page_clip("quick", detail, 128, 1.0, "cpu", 0, progress=False)
    # InfoNCE over batches of 64 starts near ln 64 = 4.16; measured 4.21-4.29 -> 2.80-3.03 for every detail (seeds 0-2)
    assert r.final_loss < 0.85 * r.initial_loss
