"""`python -m imagelint.cli`: the console entry point."""
from . import main

main()
