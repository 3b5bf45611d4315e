"""REFI-QDA exchange (QDA-XML 1.0): `.qdpx` projects and `.qdc` codebooks, in and out.

``read_qdpx``/``write_qdpx`` move a ``Project`` (a faithful model of the standard's elements)
to and from disk; ``to_project``/``from_project`` map it to workbench codebooks, transcripts
and coded segments. Output is validated against the workbench's XSD profile of the standard.
"""

from workbench.qualitative.refi.convert import ImportedProject, from_project, to_project
from workbench.qualitative.refi.model import Project
from workbench.qualitative.refi.package import (
    check_references,
    read_qdc,
    read_qdpx,
    write_qdc,
    write_qdpx,
)
from workbench.qualitative.refi.xml import parse_project, project_to_xml, schema

__all__ = [
    "ImportedProject",
    "Project",
    "check_references",
    "from_project",
    "parse_project",
    "project_to_xml",
    "read_qdc",
    "read_qdpx",
    "schema",
    "to_project",
    "write_qdc",
    "write_qdpx",
]
