"""Benchmarks, one module per question, each returning rows that the CLI
only formats.
"""
