"""The grammar layer: pure codecs between LOGOS text and scientific objects, driven by a profile."""
