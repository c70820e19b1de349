"""Building DPO's preference dataset: images decoded into the dataset up front (the baseline, the toolkit until
2026-12-07) against image paths that ``datasets`` opens when a batch is collated (ours).

    python speed/preference_images.py [--images 300] [--repeats 3]

The images are COCO-sized (640 x 480) JPEGs written once into speed/results/preference-images/ (photographs of a
fixed random scene: smooth gradients plus shapes, so they compress like photos, not like noise). Measured: the
time to build the dataset for one pair per image, the bytes of its Arrow table (what every training process
holds), and that both give the model the same pixels. The paper's iteration has 12,856 prompts.
"""

from __future__ import annotations

import argparse

from common import RESULTS, timed, write_result


def coco_like_images(n: int):
    import numpy as np
    from PIL import Image, ImageDraw

    folder = RESULTS / "preference-images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"{i:05d}.jpg"
        if path.is_file():
            continue
        y, x = np.mgrid[0:480, 0:640]
        base = np.stack([(x * rng.uniform(0.1, 0.4) + y * rng.uniform(0.1, 0.4)) % 256] * 3, -1)
        image = Image.fromarray((base * rng.uniform(0.5, 1.0, 3)).astype("uint8"))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x0, y0 = rng.integers(0, 560), rng.integers(0, 400)
            draw.ellipse((x0, y0, x0 + rng.integers(20, 80), y0 + rng.integers(20, 80)),
                         fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        image.save(path, quality=90)
    return folder, [f"{i:05d}.jpg" for i in range(n)]


def decoded_dataset(rows, folder):
    """The baseline: every image opened, converted to RGB and stored (re-encoded) in the dataset."""
    from datasets import Dataset

    from csr_eval.io import load_rgb_image

    return Dataset.from_dict({"images": [[load_rgb_image(folder / r["image"])] for r in rows],
                              "prompt": [r["prompt"] for r in rows], "chosen": [r["chosen"] for r in rows],
                              "rejected": [r["rejected"] for r in rows]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    from transformers import AutoProcessor

    from csr_eval.micro.shipped import shipped_model
    from csr_train.preference_data import preference_dataset

    folder, names = coco_like_images(args.images)
    rows = [{"image": name, "prompt": "Describe this image in detail.", "chosen": "There is a cup at the top.",
             "rejected": "There is a dog at the top."} for name in names]
    processor = AutoProcessor.from_pretrained(shipped_model("micro-llava"))
    baseline, old = timed(lambda: decoded_dataset(rows, folder), args.repeats)
    ours, new = timed(lambda: preference_dataset(rows, folder, processor), args.repeats)
    same = all(np.array_equal(np.asarray(old[i]["images"][0]), np.asarray(new[i]["images"][0]))
               for i in range(0, len(rows), max(1, len(rows) // 10)))
    write_result("preference_images", baseline, ours, goal=10.0, higher_is_better=False,
                 command=f"python speed/preference_images.py --images {args.images} --repeats {args.repeats}",
                 images=args.images, same_pixels=same,
                 arrow_bytes={"baseline": old.data.nbytes, "ours": new.data.nbytes})
    print(f"Arrow table: baseline {old.data.nbytes / 2 ** 20:.1f} MiB, ours {new.data.nbytes / 2 ** 20:.3f} MiB; "
          f"same pixels: {same}")


if __name__ == "__main__":
    main()
