"""One module per page of the UI; each exposes `render()`."""
