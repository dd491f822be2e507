"""Android export: a .tflite classifier with TFLite metadata, as a Kotlin/Gradle module (LiteRT)."""
