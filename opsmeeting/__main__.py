"""``python -m opsmeeting``: the opsmeeting command."""

from opsmeeting.cli import main

main()
