"""The domain: the typed cash-flow record and half-open time windows."""
