"""``python -m agentsocket`` runs the command line."""

from agentsocket.cli import app

app()
