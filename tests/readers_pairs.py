"""A reader's image-caption pairs for the notebook tests that take CAPTIONS_CSV (notebooks 01 and 06)."""
from pathlib import Path

from PIL import Image


def shapes_captions_csv(root: Path, n_images: int = 320, seed: int = 5, sep: str = "\t") -> Path:
    """A reader's CSV in open_clip's format: the world's training scenes saved as "photos" (3x larger, on a 4:3
    canvas) in root/images/, one row per caption phrasing (so several rows per image), paths relative to the CSV."""
    import clipbook

    world = clipbook.ShapesWorld()
    data = world.dataset(n_images, split="train", seed=seed, cache=False)
    (root / "images").mkdir(parents=True, exist_ok=True)
    s = world.image_size
    rows = ["filepath" + sep + "title"]
    for k, (image, captions) in enumerate(zip(data.images, data.all_captions())):
        canvas = Image.new("RGB", (4 * s, 3 * s), tuple(int(v) for v in image[0, 0]))
        canvas.paste(Image.fromarray(image).resize((3 * s, 3 * s), Image.Resampling.BICUBIC), (s // 2, 0))
        canvas.save(root / "images" / f"scene_{k}.png")
        rows += [f"images/scene_{k}.png{sep}{c}" for c in captions[:3]]
    (root / "pairs.csv").write_text("\n".join(rows) + "\n")
    return root / "pairs.csv"
