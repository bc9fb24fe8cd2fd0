"""evidence: turn a folder of conversation screenshots into one chargeback-ready PDF."""

__version__ = "0.1.0"
