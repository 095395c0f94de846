"""A reader's own class folders (DATA_DIR): reading, skipping what PIL cannot read, splitting, and the errors."""
import warnings

import numpy as np
import pytest
from PIL import Image

from clipbook.data import class_folders, open_rgb, stratified_split


def make_class_folders(root, counts, size=(40, 30)):
    """root/<class>/img_k.<ext>: images of several sizes, modes and formats, one colour per class."""
    colours = [(220, 40, 40), (40, 60, 220), (40, 180, 60), (230, 200, 30)]
    formats = [("png", "RGBA"), ("jpg", "RGB"), ("bmp", "L"), ("webp", "RGB")]
    for c, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(n):
            ext, mode = formats[k % len(formats)]
            colour = colours[c % len(colours)]
            image = Image.new("RGB", (size[0] + 7 * k, size[1] + 3 * k), colour).convert(mode)
            image.save(folder / f"img_{k}.{ext}")
    return root


def test_reads_classes_from_subfolder_names_and_skips_unreadable_files(tmp_path):
    root = make_class_folders(tmp_path / "photos", {"great_tit": 3, "blue_jay": 4})
    (root / "great_tit" / "notes.txt").write_text("not an image")
    (root / "blue_jay" / ".hidden.png").write_bytes(b"ignored")
    with pytest.warns(UserWarning, match=r"DATA_DIR: skipped .*notes.txt"):
        data = class_folders(root)
    assert data.class_names == ["blue jay", "great tit"]  # sorted folder names, "_" read as a space
    assert data.counts() == {"blue jay": 4, "great tit": 3} and len(data) == 7
    images = data.images()
    assert all(im.mode == "RGB" for im in images) and len({im.size for im in images}) > 1  # own sizes kept
    thumbs = data.thumbnails(24)
    assert thumbs.shape == (7, 24, 24, 3) and thumbs.dtype == np.uint8
    # the opaque RGBA pngs keep their class's colour (red great tits, blue jays)
    png = np.array([p.suffix == ".png" for p in data.paths])
    assert (thumbs[png & (data.labels == 1)][:, 12, 12] == [220, 40, 40]).all()
    assert (thumbs[png & (data.labels == 0)][:, 12, 12] == [40, 60, 220]).all()


def test_open_rgb_handles_transparency_and_16_bit(tmp_path):
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert np.asarray(open_rgb(tmp_path / "clear.png")).min() == 255  # transparent is white, not black
    Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(tmp_path / "deep.png")
    deep = np.asarray(open_rgb(tmp_path / "deep.png"))
    assert deep.shape == (8, 8, 3) and deep.min() == 0 and deep.max() == 255


@pytest.mark.parametrize("layout, message", [
    (None, r"DATA_DIR='.*missing' does not exist or is not a folder"),
    ({}, r"DATA_DIR='.*' is empty"),
    ({"loose.png": None}, r"DATA_DIR='.*' has no class subfolders \(1 files directly in it\)"),
    ({"cats": ["a.txt"], "dogs": ["b.txt"]}, r"DATA_DIR='.*' holds no image PIL can read in its 2 subfolders"),
    ({"cats": ["a.png"]}, r"DATA_DIR='.*' has 1 class\(es\) with images \(\['cats'\]\): at least 2"),
    ({"cats": ["a.png"], "Cats": ["b.png"], "dog_s": ["c.png"], "dog s": ["d.png"]}, r"two subfolders for the class 'dog s'"),
])
def test_bad_folders_are_clear_errors(tmp_path, layout, message):
    root = tmp_path / "missing"
    if layout is not None:
        root = tmp_path / "data"
        root.mkdir()
        for name, files in layout.items():
            if files is None:
                Image.new("RGB", (4, 4)).save(root / name)
                continue
            (root / name).mkdir()
            for f in files:
                if f.endswith(".png"):
                    Image.new("RGB", (4, 4)).save(root / name / f)
                else:
                    (root / name / f).write_text("text")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=message):
            class_folders(root)


def test_too_few_images_per_class_is_an_error_naming_the_class(tmp_path):
    root = make_class_folders(tmp_path / "d", {"cat": 1, "dog": 3})
    with pytest.raises(ValueError, match=r"fewer than 2 readable images: \{'cat': 1\}"):
        class_folders(root, min_per_class=2)


def test_stratified_split_keeps_every_class_on_both_sides():
    labels = np.array([0] * 2 + [1] * 10 + [2] * 5)
    train, test = stratified_split(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train, test])) == list(range(len(labels))) and not set(train) & set(test)
    for c in range(3):
        assert (labels[train] == c).any() and (labels[test] == c).any()
    assert (labels[test] == 1).sum() == 2  # 20% of 10
    again = stratified_split(labels, 0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, test), again))
    for bad in (0, 1, 1.5, "half", True):
        with pytest.raises(ValueError, match=rf"TEST_SHARE={bad!r} is not allowed"):
            stratified_split(labels, bad)
    with pytest.raises(ValueError, match="at least 2"):
        stratified_split(np.array([0, 1, 1]), 0.5)


# --- CAPTIONS_CSV: open_clip's CSV of image paths and captions ---

def write_csv(root, rows, sep="\t", header=("filepath", "title")):
    root.mkdir(parents=True, exist_ok=True)
    (root / "pairs.csv").write_text("\n".join([sep.join(header)] + [sep.join(r) for r in rows]) + "\n")
    return root / "pairs.csv"


def test_captions_csv_reads_paths_relative_to_the_file_and_groups_captions(tmp_path, monkeypatch):
    from clipbook.data import load_split, read_captions_csv, split_pairs

    root = tmp_path / "my data"
    (root / "img").mkdir(parents=True)
    for k in range(4):
        Image.new("RGB", (60 + 10 * k, 40), (50 * k, 0, 0)).save(root / "img" / f"{k}.jpg")
    absolute = tmp_path / "elsewhere.png"
    Image.new("RGBA", (30, 30), (0, 0, 255, 255)).save(absolute)
    csv = write_csv(root, [("img/0.jpg", "a red  thing"), ("img/0.jpg", "something red"), ("img/1.jpg", "one"),
                           ("img/2.jpg", "two"), ("img/3.jpg", "three"), (str(absolute), "blue square")])
    monkeypatch.chdir(tmp_path)  # relative paths are the CSV's, not the working directory's
    pairs = read_captions_csv(csv)
    assert len(pairs) == 5 and pairs.n_pairs == 6
    assert pairs.captions[0] == ["a red thing", "something red"] and pairs.paths[4] == absolute
    images = pairs.load_images(32)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8 and (images[4] == [0, 0, 255]).all()
    train, val = split_pairs(pairs, 0.4, seed=1)
    assert (len(train), len(val)) == (3, 2) and not set(train.paths) & set(val.paths)
    # what notebooks 01 and 06 train and test on: the same split, images read at the size asked, first captions held out
    train_images, train_captions, val_images, val_captions = load_split(pairs, 0.4, 16, seed=1)
    assert train_images.shape == (3, 16, 16, 3) and val_images.shape == (2, 16, 16, 3)
    assert train_captions == train.captions and val_captions == [c[0] for c in val.captions]
    # other separators and column names, as open_clip_train's --csv-separator / --csv-img-key / --csv-caption-key
    other = write_csv(tmp_path / "comma", [(str(absolute), "blue square")], sep=",", header=("image", "text"))
    assert read_captions_csv(other, ",", "image", "text").captions == [["blue square"]]


@pytest.mark.parametrize("case, message", [
    ("missing", r"CAPTIONS_CSV='.*nope.csv' does not exist"),
    ("no title column", r"CSV_CAPTION_KEY='title' is not a column of CAPTIONS_CSV=.*: its columns are \['filepath', 'caption'\]"),
    ("wrong separator", r"CSV_IMG_KEY='filepath' is not a column .*: its columns are \['filepath,title'\] \(read with CSV_SEPARATOR="),
    ("missing image", r"names 1 image file\(s\) that do not exist, e.g. \['.*gone.png'\] \(relative paths are read against"),
    ("empty caption", r"rows without a caption in 'title': rows \[3\]"),
    ("no rows", r"has no rows"),
])
def test_bad_captions_csv_is_a_clear_error(tmp_path, case, message):
    from clipbook.data import read_captions_csv

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    csv = {
        "missing": lambda: tmp_path / "nope.csv",
        "no title column": lambda: write_csv(tmp_path, [("a.png", "x")], header=("filepath", "caption")),
        "wrong separator": lambda: write_csv(tmp_path, [("a.png", "x")], sep=","),
        "missing image": lambda: write_csv(tmp_path, [("a.png", "x"), ("gone.png", "y")]),
        "empty caption": lambda: write_csv(tmp_path, [("a.png", "x"), ("a.png", " ")]),
        "no rows": lambda: write_csv(tmp_path, []),
    }[case]()
    with pytest.raises(ValueError, match=message):
        read_captions_csv(csv)
