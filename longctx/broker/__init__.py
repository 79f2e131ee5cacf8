"""The message broker as the library sees it: the Celery app's configuration, the embedded SQLite transport,
and the enqueue helpers. Messages carry ids only; SQL holds the state. The task code lives in `workers`."""
