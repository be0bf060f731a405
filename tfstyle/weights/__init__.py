"""Where VGG19's kernels come from: ImageNet and Keras files, SavedModels,
procedural and random filters.
"""
