"""`python -m engine` runs the `jimu` command."""

from engine.cli import app

app(prog_name="jimu")
