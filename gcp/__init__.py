"""Thin adapters over the Google Cloud client libraries.

Everything here returns the project's own frozen dataclasses (`gcp.models`) and raises the
project's own errors (`gcp.errors`); no protobuf leaves this package. `gcp` imports neither
`bot` nor `handlers`.
"""
