"""csr_train: the Calibrated Self-Rewarding loop (sentence-level search, calibrated reward, DPO). In progress."""
