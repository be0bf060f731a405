"""The Colab notebook: valid, outputs cleared, and it runs top to bottom."""

import time
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "tfstyle_colab.ipynb"


def test_notebook_is_valid_with_outputs_cleared():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_top_to_bottom_on_the_cpu(monkeypatch, tmp_path):
    from nbclient import NotebookClient

    monkeypatch.setenv("TFSTYLE_NOTEBOOK_TEST", "1")  # tiny sizes, random weights, no network
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    started = time.monotonic()
    client.execute()
    text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.outputs)
    assert "running on the CPU" in text or "running on GPU" in text
    assert "using the built-in demo images" in text
    assert "max difference to the in-process extractor: 0.0" in text
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert len(images) == 2  # the result and the Figure 3 sheet
    assert time.monotonic() - started < 180
