"""Importers of published checkpoints into cuescore checkpoints (one module per source system)."""
