//! Path normalization (being written).
