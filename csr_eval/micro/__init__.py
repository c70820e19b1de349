"""The micro-world: a tiny synthetic COCO-format world for running everything offline on CPU."""
