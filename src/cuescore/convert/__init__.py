"""Importers of published checkpoints into cuescore checkpoints (one module per source system).

Each importer reads the source's weights safely (`state_dict.read_state_dict`), maps and checks
every key it uses, and writes a folder that `cuescore.models.load_model` reads.
"""
