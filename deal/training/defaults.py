"""Training and calibration defaults, in a module that imports nothing (the CLI reads them before torch)."""

DEFAULT_PRECISION = 0.9  # deal export: the verdict's image thresholds are each at least this precise
FINAL_CHECKPOINT = "final.ckpt"  # deal train: the model as training left it, beside best-*.ckpt and last.ckpt
TRAIN_SPLIT, VAL_SPLIT = "train", "val"  # the splits of data.train and data.val a run reads by default
LOG_DIR = "runs"  # deal train: where logs and checkpoints go unless the config names a logger
