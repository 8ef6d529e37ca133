"""`python -m labdeck` runs the command line."""

from labdeck.cli import main

main()
