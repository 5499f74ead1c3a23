"""examples/notebook.ipynb runs from top to bottom in a real kernel (nbclient + ipykernel), against
its own in-process sandbox, and shows what an analyst expects: results as DataFrames, every row
accounted for, ids and phones as written, and no link anywhere in what it displays."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _texts(cell) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            texts.append(output["data"].get("text/plain", ""))
        elif output.output_type == "error":
            texts.append(f"{output.ename}: {output.evalue}")
    return texts


def test_the_notebook_runs_and_shows_results_without_links(clean_env, tmp_path):
    clean_env.setenv("COMMBOX_DATA_DIR", str(tmp_path))
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    shown = {cell.source.splitlines()[-1]: "\n".join(_texts(cell)) for cell in code}
    everything = "\n".join(shown.values())

    assert not any(o.output_type == "error" for cell in code for o in cell.outputs)
    assert "RunResult(" in everything and "rows=8, succeeded=4, failed=4" in everything
    assert "(4, 4, {'invalid': 3, 'not_found': 1})" in everything
    assert "000123" in everything and "+972 54 123 4567" in everything  # as written, not numbers
    assert "100%" in everything  # the progress bar ran to the end
    assert "rows=" in shown["result"]
    runs = shown['runs[["run", "kind", "status", "rows", "succeeded", "failed"]]']
    assert "agents" in runs and "customers" in runs and runs.count("done") == 2
    assert "ghost.agent" in shown['outcomes[["row", "subject", "ok", "error_code"]]']
    assert "ta=" not in everything and "/chat/" not in everything and "/login" not in everything
