"""`python -m shopbridge` runs the CLI."""

from shopbridge.cli.app import main

main()
