"""The Colab notebook: valid, outputs cleared, and it runs top to bottom."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "tfstyle_colab.ipynb"


def test_notebook_is_valid_with_outputs_cleared():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


# After the notebook, in its kernel: how far the export's conv1_1 may differ
# from the in-process extractor's. Both compute the same float32 sums of
# 3x3x3 products in whatever order their kernels choose; each is within
# n u sum|w x| + |b| of the exact value (n = 28 terms with the bias, u =
# 2^-24), so they differ by at most twice that, and ReLU does not add to it.
BOUND = """
from tfstyle.extractor import vgg_preprocess
kernel, bias = extractor.kernels()["conv1_1"]
x = vgg_preprocess(tf.constant(c3[None], tf.float32))
magnitude = tf.nn.conv2d(tf.abs(x), tf.abs(tf.constant(kernel)), 1, "SAME") + abs(bias)
print("float32 bound:", float(2 * 28 * 2.0 ** -24 * tf.reduce_max(magnitude)))
"""


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_on_the_cpu(monkeypatch, tmp_path):
    from nbclient import NotebookClient

    monkeypatch.setenv("TFSTYLE_NOTEBOOK_TEST", "1")  # tiny sizes, procedural weights, no network
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    cells = list(notebook.cells)
    extra = nbformat.v4.new_code_cell(BOUND)
    notebook.cells.append(extra)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    text = "\n".join(out.get("text", "") for cell in cells if cell.cell_type == "code"
                     for out in cell.outputs)
    assert "running on the CPU" in text or "running on GPU" in text
    assert "using the built-in demo images" in text
    difference = float(re.search(r"max difference to the in-process extractor: (\S+)",
                                 text).group(1))
    bound = float(re.search(r"float32 bound: (\S+)", extra.outputs[0]["text"]).group(1))
    assert 0 < bound < 1e-2 and 0 <= difference <= bound, (difference, bound)
    assert "the UI answered at http://127.0.0.1:" in text and "with its page" in text
    assert "finished: 5 iterations" in text
    images = [out for cell in cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert len(images) == 2  # the result and the Figure 3 sheet


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


@pytest.mark.slow
def test_install_cell_says_what_to_paste_when_it_has_no_address(tmp_path):
    run = _install_cell_in_a_fresh_process(tmp_path)
    assert run.returncode == 1 and "pip install" not in run.stdout
    assert run.stderr.strip() == ("Paste the tfstyle repository address into REPO at the top of "
                                  "this cell (or tick WHEEL to upload a tfstyle .whl), then run it "
                                  "again.")


@pytest.mark.slow
def test_install_cell_installs_an_uploaded_wheel(tmp_path):
    run = _install_cell_in_a_fresh_process(tmp_path, ["tfstyle-0.1.0-py3-none-any.whl"])
    assert run.stdout.strip() == "pip install tfstyle-0.1.0-py3-none-any.whl[ui]", run.stderr
