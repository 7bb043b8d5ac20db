"""The schema's migrations, which Alembic loads from this folder: env.py and versions/."""
