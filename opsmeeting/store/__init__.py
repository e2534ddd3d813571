"""State kept between runs, in one SQLite file: the store (``db.py``) and the run ledger (``ledger.py``)."""

from opsmeeting.store.db import SCHEMA_VERSION, Store, StoredWindow

__all__ = ["SCHEMA_VERSION", "Store", "StoredWindow"]
