"""From records to files: formats, partitions, atomic storage, and the writer that ties them."""
