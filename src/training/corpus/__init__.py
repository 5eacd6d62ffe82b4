"""The star-rated review corpus: its manifest, source readers, cleaning and the `build-corpus` command."""
