"""``python -m opsmeeting.cli``: the opsmeeting command."""

from opsmeeting.cli import main

main()
