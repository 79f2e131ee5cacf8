"""The job service: analysis jobs from request to findings, in one layer below the API and the workers.

* `requests`: validate and create jobs (questions, extractions) with one outcome row per document;
* `lifecycle`: the only code that changes a job's state (claim, lease, finish, cancel, retry, reap);
* `execution`: run a claimed job on a worker (reader, findings, outcomes, progress);
* `export`: the JSON/CSV shapes of jobs and findings for the API, the CLI and the UI's downloads;
* `errors`: request errors the API maps to 422/404/409.
"""

from __future__ import annotations

from .errors import Conflict, JobRequestError, NotFound
from .execution import JobOutcome, run_analysis_job, wait_for_job
from .export import FINDING_FIELDS, findings_csv, findings_for_job, findings_json, job_to_dict
from .lifecycle import TERMINAL
from .readers import load_reader
from .requests import create_analysis_job, job_queries, schema_names

__all__ = [
    "FINDING_FIELDS",
    "TERMINAL",
    "Conflict",
    "JobOutcome",
    "JobRequestError",
    "NotFound",
    "create_analysis_job",
    "findings_csv",
    "findings_for_job",
    "findings_json",
    "job_queries",
    "job_to_dict",
    "load_reader",
    "run_analysis_job",
    "schema_names",
    "wait_for_job",
]
