"""The writer: queue -> storage, batch by batch, committing only after the insert."""
