"""What can go wrong when a caller asks something of the job service; the API maps each to its HTTP status.
`WorkerFault`: what can go wrong on the worker's side while it runs a job."""

from __future__ import annotations


class JobRequestError(ValueError):
    """A request that cannot be accepted as given (bad parameters): the API answers 422."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(JobRequestError):
    """The tenant has no such job or document (another tenant's counts as none): 404."""


class Conflict(JobRequestError):
    """The job is in a state where the action does not apply (e.g. cancelling a finished job): 409."""


class WorkerFault(RuntimeError):
    """The worker, not the document, failed while reading (e.g. a rank of a multi-device worker stopped).

    ``reason`` is safe to show the client: the job's document gets it as its error (with a reference to the
    log line), where other reader errors get a generic message. The worker repairs itself for the next one."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
