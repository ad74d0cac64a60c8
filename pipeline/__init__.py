"""Drape: occlusion-robust fashion image search.

Public entry points: `pipeline.config.load`, `pipeline.engine.Engine`,
`pipeline.index.open_index`, `pipeline.ingest.ingest`.
"""
__version__ = "0.1.0"
