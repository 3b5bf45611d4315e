"""Connectors: hospital data (FHIR, an establishment's OMOP database, CSV extracts) and wearable
exports into the warehouse, FHIR bundles into a study, and a participant's data out as FHIR.

Every import returns a ``RunReport`` (rows read, mapped, inserted, updated, unchanged,
rejected and why). Direct identifiers go to the trusted party only; the warehouse gets
pseudonymised rows. Runs are incremental and idempotent through the state kept in the
warehouse's ``weshare`` schema (see ``state``).
"""

from workbench.connectors.csv_import import import_csv, read_mapping
from workbench.connectors.fhir_export import participant_bundle
from workbench.connectors.fhir_import import import_fhir
from workbench.connectors.fhir_study import import_fhir_into_study
from workbench.connectors.omop_import import import_omop
from workbench.connectors.report import Rejection, RunReport
from workbench.connectors.wearables import import_wearables, sitting_covariates

__all__ = ["Rejection", "RunReport", "import_csv", "import_fhir", "import_fhir_into_study",
           "import_omop", "import_wearables",
           "participant_bundle", "read_mapping", "sitting_covariates"]
