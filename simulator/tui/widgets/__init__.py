"""Reusable widgets of the trainee's app. Each styles itself with DEFAULT_CSS."""
