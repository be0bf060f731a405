"""Runs that write files, resumable and usable from a notebook: a transfer
with its record and checkpoints, the paper's figures, the demo, jobs and
batches (here or on Ray), video, the quality grid, the export and the page.
"""
