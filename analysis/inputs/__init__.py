"""Reading the contract files: the stimulus set, the responses export (a CSV or, read-only, the study
server's database) and the predictions, joined into one long table (load); and what went into a report,
hashed and versioned, with each network's training record from its predictions' sidecar (provenance)."""
