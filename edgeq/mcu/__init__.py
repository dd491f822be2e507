"""Microcontroller side: TensorFlow Lite Micro checks and arena measurement, firmware bundles."""
