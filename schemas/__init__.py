"""The contract between producers, the evaluator and the consumers.

Avro schemas (``*.avsc``, one file per named type, file name = full name so that any Avro tool
resolves references), every released version of them under ``history/``, the one codec, event
validation, topic names, the configuration model and the error hierarchy.
"""
