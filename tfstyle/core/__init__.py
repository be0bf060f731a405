"""The paper's pipeline, arrays and tensors in and out, no files and no prints:
the extractor, the losses and their terms, the objective, the exact tiles,
the memory plan, the XLA race and the synthesis.
"""
