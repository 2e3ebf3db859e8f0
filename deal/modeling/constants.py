"""Defaults owned by the model's input pipeline that light modules (the CLI's --help) read without
importing torch."""

# Model inputs per batch (and inputs per window of a folder run): the one default of deal detect,
# deal benchmark, deal export's calibration, validation and Detector.predict_many.
DEFAULT_BATCH_SIZE = 8
