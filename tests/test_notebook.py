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

    monkeypatch.setenv("TFSTYLE_NOTEBOOK_TEST", "1")  # tiny sizes, procedural weights, no network
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
    assert "the UI answered at http://127.0.0.1:" in text and "with its page" in text
    assert "finished: 5 iterations" in text
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert len(images) == 2  # the result and the Figure 3 sheet
    assert time.monotonic() - started < 180


def _install_cell_in_a_fresh_process(tmp_path, files=()):
    """Run the notebook's install cell where tfstyle cannot be imported and
    pip is stubbed to print what it would install."""
    import subprocess
    import sys

    source = nbformat.read(NOTEBOOK, as_version=4).cells[1].source
    for name in files:
        (tmp_path / name).write_bytes(b"")
    driver = (
        "import subprocess, sys\n"
        "sys.modules['tfstyle'] = None  # not importable\n"
        "def pip(args, **kwargs):\n"
        "    print('pip install', args[-1]); raise SystemExit(0)\n"
        "subprocess.run = pip\n"
        f"exec(compile({source!r}, 'cell', 'exec'))\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TFSTYLE_REPO"}
    return subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=env)


def test_install_cell_says_what_to_paste_when_it_has_no_address(tmp_path):
    run = _install_cell_in_a_fresh_process(tmp_path)
    assert run.returncode == 1 and "pip install" not in run.stdout
    assert run.stderr.strip() == ("Paste the tfstyle repository address into REPO at the top of "
                                  "this cell (or tick WHEEL to upload a tfstyle .whl), then run it "
                                  "again.")


def test_install_cell_installs_an_uploaded_wheel(tmp_path):
    run = _install_cell_in_a_fresh_process(tmp_path, ["tfstyle-0.1.0-py3-none-any.whl"])
    assert run.stdout.strip() == "pip install tfstyle-0.1.0-py3-none-any.whl[ui]", run.stderr
