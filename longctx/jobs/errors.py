"""What can go wrong when a caller asks something of the job service; the API maps each to its HTTP status."""

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
