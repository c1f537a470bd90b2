"""The ledger: SQLAlchemy models, idempotent repositories, migrations."""
