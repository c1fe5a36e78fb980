"""The domain: the typed cash-flow record, half-open time windows, and the query over them."""
