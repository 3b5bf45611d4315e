"""Research notebook templates run top to bottom on a small demo warehouse (nbclient), and the
data-access cell takes the gateway when the notebook runs in a project server."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.analysis.conftest import DEMO_PERSONS, gateway_extract, gateway_person_rows
from workbench.reports import execute_notebook

TEMPLATES = Path(__file__).resolve().parents[2] / "notebooks" / "templates"
NAMES = ("cohort_description", "longitudinal_qol", "time_to_deterioration", "mixed_methods")
PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(autouse=True)
def outside_a_project_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUPYTERHUB_API_TOKEN", "WESHARE_PROJECT", "WESHARE_GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)


def _texts(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def _figures(nb: nbformat.NotebookNode) -> int:
    return sum(PLOTLY in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


@pytest.mark.parametrize("name", NAMES)
def test_template_is_committed_clean_with_one_parameters_cell(name: str) -> None:
    nb = nbformat.read(TEMPLATES / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and nb.cells.index(tagged[0]) == 1
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    access = [c.source for c in nb.cells if "secure_bubble.client import Warehouse" in c.source]
    assert len(access) == 1 and "open_warehouse(" in access[0] and "JUPYTERHUB_API_TOKEN" in access[0]
    # analysis goes through the toolkit, not code written in the notebook
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in nb.cells for line in c.source.splitlines())


@pytest.fixture(scope="module")
def codes_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    people = rng.choice(np.arange(1, DEMO_PERSONS + 1), 30, replace=False).astype(str)
    path = tmp_path_factory.mktemp("qual") / "codes.csv"
    pd.DataFrame({"participant": people, "fatigue": rng.integers(0, 4, 30),
                  "fear_of_recurrence": rng.integers(0, 2, 30), "return_to_work": rng.integers(0, 3, 30)}
                 ).to_csv(path, index=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_template_runs_on_the_demo_warehouse(name: str, demo_warehouse: str, codes_csv: Path) -> None:
    parameters: dict[str, object] = {"warehouse_url": demo_warehouse}
    if name == "mixed_methods":
        parameters["codes_path"] = str(codes_csv)
    nb = execute_notebook(TEMPLATES / f"{name}.ipynb", parameters=parameters, timeout=300)
    text = _texts(nb)
    assert f"{DEMO_PERSONS} participants" in text and "cohort queries, audited" in text
    assert "Traceback" not in text and "NaN%" not in text
    expected = {
        "cohort_description": (["mean (SD)", "intervention", f"{DEMO_PERSONS}/{DEMO_PERSONS}", "M24"], 3),
        "longitudinal_qol": (["month:C(arm)[T.intervention]", "converged True", "z-based",
                              "missing completely at random", "deteriorated_pct"], 2),
        "time_to_deterioration": (["log-rank chi2 =", "time until definitive deterioration (def2)",
                                   "median (months)", "censored at last assessment",
                                   "arm = intervention"], 1),
        "mixed_methods": (["30 interviewed participants, 3 codes", "fear_of_recurrence", "n_without"], 1),
    }[name]
    for snippet in expected[0]:
        assert snippet in text, snippet
    assert _figures(nb) == expected[1]


@pytest.mark.slow
def test_longitudinal_options_baseline_adjustment_other_group_fast_engine(demo_warehouse: str) -> None:
    nb = execute_notebook(TEMPLATES / "longitudinal_qol.ipynb", timeout=300, parameters={
        "warehouse_url": demo_warehouse, "adjust_for_baseline": True, "group": "gender",
        "model_engine": "fast", "scale": "FA", "mid": 5})
    text = _texts(nb)
    assert "FA ~ month * C(gender) + baseline_score" in text and "month:C(gender)[T.male]" in text
    assert "baseline_score" in text and "M24" in text and "female" in text


class _FakeGateway(BaseHTTPRequestHandler):
    """Answers like the gateway: approved variables only, a 403 naming any other."""

    requests: list[dict[str, object]] = []  # noqa: RUF012 — one test, one server
    frame = pd.DataFrame()
    approved: tuple[str, ...] = ()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.requests.append({"auth": self.headers.get("Authorization"), **body})
        refused = [v for v in body["variables"] if v not in cls.approved]
        if refused:
            self._reply(403, "application/json", json.dumps(
                {"error": f"variable {refused[0]!r} is not approved for project {body['project']}"}).encode())
            return
        person = {"arm": ["arm"], "demographics": ["sex", "birth_year"]}
        names = [n for v in body["variables"] for n in person.get(v, [])]
        frame = cls.frame[cls.frame["variable"].str.startswith("qlq-c30.") | cls.frame["variable"].isin(names)]
        table = pa.Table.from_pandas(frame.assign(date=frame["date"].dt.date), preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        self._reply(200, "application/vnd.apache.arrow.stream", sink.getvalue().to_pybytes())

    def _reply(self, status: int, kind: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    _FakeGateway.frame = pd.concat([gateway_extract().assign(text=None), gateway_person_rows()], ignore_index=True)
    _FakeGateway.requests, _FakeGateway.approved = [], ("qlq-c30.*", "arm")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_in_a_project_server_the_template_reads_through_the_gateway(gateway: str) -> None:
    env = {"JUPYTERHUB_API_TOKEN": "server-token", "WESHARE_PROJECT": "P2026-0001", "WESHARE_GATEWAY_URL": gateway}
    nb = execute_notebook(TEMPLATES / "cohort_description.ipynb", parameters={"group": None}, env=env, timeout=300)
    text = _texts(nb)
    assert _FakeGateway.requests == [{"auth": "token server-token", "project": "P2026-0001",
                                      "variables": ["qlq-c30.*"]}]
    assert "source: warehouse gateway (project extract)" in text
    assert f"{DEMO_PERSONS} participants" in text and "participant columns: study" in text
    assert _figures(nb) == 3


@pytest.mark.slow
def test_a_project_approved_for_the_arm_gets_the_grouped_analysis(gateway: str) -> None:
    env = {"JUPYTERHUB_API_TOKEN": "server-token", "WESHARE_PROJECT": "P2026-0001", "WESHARE_GATEWAY_URL": gateway}
    nb = execute_notebook(TEMPLATES / "cohort_description.ipynb", env=env, timeout=300)
    text = _texts(nb)
    assert [r["variables"] for r in _FakeGateway.requests] == [["qlq-c30.*", "arm"]]
    assert "participant columns: study, arm" in text and "intervention" in text and "control" in text


@pytest.mark.slow
def test_a_group_the_project_is_not_approved_for_is_refused_by_name(gateway: str) -> None:
    env = {"JUPYTERHUB_API_TOKEN": "server-token", "WESHARE_PROJECT": "P2026-0001", "WESHARE_GATEWAY_URL": gateway}
    from workbench.errors import ValidationError

    with pytest.raises(ValidationError, match=r"cell \d+ .*'demographics' is not approved for project P2026-0001"):
        execute_notebook(TEMPLATES / "cohort_description.ipynb", parameters={"group": "gender"}, env=env,
                         timeout=300)


WOMEN = {"name": "women", "criteria": [{"type": "Demographics", "sex": "female"}]}


@pytest.mark.slow
def test_a_cohort_parameter_narrows_the_template_to_its_people(demo_warehouse: str) -> None:
    nb = execute_notebook(TEMPLATES / "cohort_description.ipynb", timeout=300,
                          parameters={"warehouse_url": demo_warehouse, "cohort": WOMEN})
    text = _texts(nb)
    assert 'cohort women: [{"type": "Demographics", "sex": "female"' in text and ", cohort women" in text
    counted = re.search(r"(\d+) participants", text)
    assert counted and 0 < int(counted.group(1)) < DEMO_PERSONS
    assert "Traceback" not in text and _figures(nb) == 3


@pytest.mark.slow
def test_in_a_project_server_the_cohort_goes_to_the_gateway_and_a_bad_one_nowhere(gateway: str) -> None:
    env = {"JUPYTERHUB_API_TOKEN": "server-token", "WESHARE_PROJECT": "P2026-0001", "WESHARE_GATEWAY_URL": gateway}
    from workbench.errors import ValidationError

    bad = {"name": "x", "criteria": [{"type": "Demographics", "sex": "female' OR 1=1 --"}]}
    with pytest.raises(ValidationError, match=r"cohort.criteria\[0\].sex"):
        execute_notebook(TEMPLATES / "cohort_description.ipynb", parameters={"group": None, "cohort": bad}, env=env,
                         timeout=300)
    assert _FakeGateway.requests == []  # refused before anything was asked
    execute_notebook(TEMPLATES / "cohort_description.ipynb", parameters={"group": None, "cohort": WOMEN}, env=env,
                     timeout=300)
    sent = {**WOMEN, "criteria": [{**WOMEN["criteria"][0], "birth_year_min": None, "birth_year_max": None}]}
    assert _FakeGateway.requests == [{"auth": "token server-token", "project": "P2026-0001",
                                      "variables": ["qlq-c30.*"], "cohort": sent}]
