"""The only package that opens files: images, records' JSON, arrays, video
frames, plots, sheets, the caches and the system's own readings.
"""
