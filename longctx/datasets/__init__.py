"""Data the trainers and evaluators read: CUAD (split, labels, located clauses), the SEC 10-Q questions, and
the generated needle tasks. A side package: nothing in the service stack imports it (see pyproject's
import-linter contracts)."""
